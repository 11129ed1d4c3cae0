package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"workspace"
)

// ActivityExportInput selects the rows to export and the format.
type ActivityExportInput struct {
	ActivityFilterParams
	Format string `query:"format" enum:"jsonl,csv" default:"jsonl" doc:"jsonl: one JSON object per line (application/x-ndjson); csv: RFC 4180 with a header row."`
}

// exportWriteWindow is how long each page may take to reach the client:
// the server's WriteTimeout would otherwise cut a long export.
const exportWriteWindow = time.Minute

// handleActivityExport streams every row matching the filter, newest first,
// page by page (MaxPageSize rows at a time, never the whole trail in
// memory). Rows written during the export are not included: pages follow
// ids downward from the first page.
func (s *Server) handleActivityExport(ctx context.Context, in *ActivityExportInput) (*huma.StreamResponse, error) {
	f, err := in.filter(ctx)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	f.Limit = workspace.MaxPageSize
	// The first page is read before answering, so a bad filter or an
	// unavailable database is still a proper error status.
	page, next, err := s.Store.FindActivityLogs(ctx, f)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	csvFormat := in.Format == "csv"
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		_, w := humago.Unwrap(hctx)
		rc := http.NewResponseController(w)
		name, ctype := "activity-logs.jsonl", "application/x-ndjson"
		if csvFormat {
			name, ctype = "activity-logs.csv", "text/csv; charset=utf-8"
		}
		hctx.SetHeader("Content-Type", ctype)
		hctx.SetHeader("Content-Disposition", `attachment; filename="`+name+`"`)
		hctx.SetStatus(http.StatusOK)

		bw := bufio.NewWriterSize(w, 64<<10)
		var cw *csv.Writer
		var write func(*workspace.ActivityLog) error
		if csvFormat {
			cw = csv.NewWriter(bw)
			cw.Write(csvHeader)
			write = func(l *workspace.ActivityLog) error { return cw.Write(csvRecord(l)) }
		} else {
			enc := json.NewEncoder(bw)
			write = func(l *workspace.ActivityLog) error { return enc.Encode(l) }
		}
		// flush sends what a page produced, so the client sees progress.
		flush := func() error {
			if cw != nil {
				cw.Flush()
				if err := cw.Error(); err != nil {
					return err
				}
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			_ = rc.Flush() // a writer that cannot flush sends at the end
			return nil
		}
		for {
			_ = rc.SetWriteDeadline(time.Now().Add(exportWriteWindow)) // unsupported writers keep the server's
			for _, l := range page {
				if err := write(l); err != nil {
					return // the client went away
				}
			}
			if err := flush(); err != nil || next == "" {
				return
			}
			f.Cursor = next
			if page, next, err = s.Store.FindActivityLogs(ctx, f); err != nil {
				// Too late for an error status: the client sees a
				// truncated body, the log says why.
				s.Logger.ErrorContext(ctx, "activity export interrupted", slog.String("request_id", requestID(ctx)), slog.Any("err", err))
				return
			}
		}
	}}, nil
}

var csvHeader = []string{"id", "created_at", "user_id", "action", "ip_address", "user_agent", "metadata"}

func csvRecord(l *workspace.ActivityLog) []string {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	userID := ""
	if l.UserID != nil {
		userID = strconv.Itoa(*l.UserID)
	}
	return []string{strconv.Itoa(l.ID), l.CreatedAt.UTC().Format(time.RFC3339Nano), userID,
		csvSafe(l.Action), csvSafe(str(l.IPAddress)), csvSafe(str(l.UserAgent)), csvSafe(string(l.Metadata))}
}

// csvSafe defuses spreadsheet formulas: a cell that starts with =, +, -,
// @, a tab or a carriage return gets a leading apostrophe (OWASP's CSV
// injection advice). The user agent is attacker-controlled; JSON Lines
// keeps every value exactly.
func csvSafe(v string) string {
	if v != "" && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r') {
		return "'" + v
	}
	return v
}
