package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"workspace"
)

// codes maps application error codes to HTTP statuses: the one table.
var codes = map[string]int{
	workspace.ECONFLICT:       http.StatusConflict,
	workspace.EINVALID:        http.StatusBadRequest,
	workspace.ENOTFOUND:       http.StatusNotFound,
	workspace.ENOTIMPLEMENTED: http.StatusNotImplemented,
	workspace.EUNAUTHORIZED:   http.StatusUnauthorized,
	workspace.EFORBIDDEN:      http.StatusForbidden,
	workspace.ETOOMANY:        http.StatusTooManyRequests,
	workspace.EUNAVAILABLE:    http.StatusServiceUnavailable,
	workspace.EUNPROCESSABLE:  http.StatusUnprocessableEntity,
	workspace.EINTERNAL:       http.StatusInternalServerError,
}

// statusCodes maps the statuses huma produces itself back to codes.
var statusCodes = map[int]string{
	http.StatusBadRequest:            workspace.EINVALID,
	http.StatusUnprocessableEntity:   workspace.EINVALID,
	http.StatusUnauthorized:          workspace.EUNAUTHORIZED,
	http.StatusForbidden:             workspace.EFORBIDDEN,
	http.StatusNotFound:              workspace.ENOTFOUND,
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusNotAcceptable:         "not_acceptable",
	http.StatusConflict:              workspace.ECONFLICT,
	http.StatusRequestEntityTooLarge: "too_large",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusTooManyRequests:       workspace.ETOOMANY,
	http.StatusServiceUnavailable:    workspace.EUNAVAILABLE,
	http.StatusRequestTimeout:        "timeout",
}

// Problem is an RFC 9457 problem document with a stable machine code and
// per-field errors.
type Problem struct {
	Type   string         `json:"type,omitempty" doc:"A URI reference for the problem type."`
	Title  string         `json:"title" doc:"Short summary of the problem type."`
	Status int            `json:"status" doc:"HTTP status code."`
	Code   string         `json:"code" doc:"Stable machine-readable error code." enum:"invalid,unauthorized,forbidden,not_found,conflict,unprocessable,rate_limited,unavailable,internal,not_implemented,method_not_allowed,not_acceptable,too_large,unsupported_media_type,timeout"`
	Detail string         `json:"detail,omitempty" doc:"Human-readable explanation of this occurrence."`
	Errors []FieldProblem `json:"errors,omitempty" doc:"Per-field problems."`

	headers http.Header
}

// FieldProblem is one invalid field of a request.
type FieldProblem struct {
	Field   string `json:"field" doc:"The field, e.g. 'username' or 'query.limit'."`
	Message string `json:"message"`
}

func (p *Problem) Error() string             { return p.Detail }
func (p *Problem) GetStatus() int            { return p.Status }
func (p *Problem) GetHeaders() http.Header   { return p.headers }
func (p *Problem) ContentType(string) string { return "application/problem+json" }

var installErrorsOnce sync.Once

// installErrors makes huma write every error, its own validation errors
// included, as a Problem. huma exposes this only as a package variable.
func installErrors() {
	installErrorsOnce.Do(func() {
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			if status == http.StatusUnprocessableEntity {
				// Schema validation (types, lengths, unknown fields): the
				// request is malformed, 400, as for our own validation.
				status = http.StatusBadRequest
			}
			code, ok := statusCodes[status]
			if !ok {
				code = workspace.EINTERNAL
				if status < 500 {
					code = workspace.EINVALID
				}
			}
			p := &Problem{Status: status, Title: http.StatusText(status), Code: code, Detail: msg}
			for _, e := range errs {
				if e == nil {
					continue
				}
				var d *huma.ErrorDetail
				if errors.As(e, &d) {
					// The value is deliberately not echoed: it may be a password.
					p.Errors = append(p.Errors, FieldProblem{Field: strings.TrimPrefix(d.Location, "body."), Message: d.Message})
				} else {
					p.Errors = append(p.Errors, FieldProblem{Message: e.Error()})
				}
			}
			return p
		}
	})
}

// Error converts an application error into the problem huma writes.
// EINTERNAL errors are logged with their cause; the client only gets a
// generic message.
func (s *Server) Error(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		err = &workspace.Error{Code: workspace.EUNAVAILABLE, Message: "Request canceled."}
	} else if errors.Is(err, context.DeadlineExceeded) {
		err = &workspace.Error{Code: workspace.EUNAVAILABLE, Message: "The request took too long; try again.", RetryAfter: time.Second}
	}
	code := workspace.ErrorCode(err)
	status := codes[code]
	if code == workspace.EINTERNAL {
		s.Logger.ErrorContext(ctx, "internal error", slog.String("request_id", requestID(ctx)), slog.Any("err", err))
	}
	p := &Problem{Status: status, Title: http.StatusText(status), Code: code, Detail: workspace.ErrorMessage(err)}
	var e *workspace.Error
	if errors.As(err, &e) {
		for _, f := range e.Fields {
			p.Errors = append(p.Errors, FieldProblem{Field: f.Field, Message: f.Message})
		}
		if e.RetryAfter > 0 {
			secs := int((e.RetryAfter + time.Second - 1) / time.Second)
			p.headers = http.Header{"Retry-After": {strconv.Itoa(secs)}}
		}
	}
	return p
}
