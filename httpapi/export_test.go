package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"workspace"
	"workspace/postgres"
	"workspace/sqlite"
)

// setCipher gives a store an audit metadata cipher.
func setCipher(tb testing.TB, s workspace.Store, keys string) {
	tb.Helper()
	k, err := workspace.ParseAuditKeys(keys)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := workspace.NewAuditCipher(k, nil)
	if err != nil {
		tb.Fatal(err)
	}
	switch db := s.(type) {
	case *sqlite.DB:
		db.Cipher = c
	case *postgres.DB:
		db.Cipher = c
	default:
		tb.Fatalf("store %T", s)
	}
}

// Ensure the export streams every matching row (more than one page) in
// JSON Lines and CSV, newest first, with sensitive metadata decrypted for
// the admin, and only to admins.
func TestActivityExport(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		store := open(t)
		setCipher(t, store, "k1:"+strings.Repeat("A", 43)+"=")
		h := newHarness(t, store)
		admin := h.signup("admin")
		user := h.signup("bob")
		const n = workspace.MaxPageSize + 51
		ctx := workspace.NewContextWithActor(context.Background(), workspace.Actor{UserID: user.ID, IP: "192.0.2.4", UserAgent: "=cmd|' /C calc'!A0"})
		for i := 0; i < n; i++ {
			if err := store.WriteAudit(ctx, workspace.Audit{Action: "test.export", Metadata: map[string]any{
				"i": i, "email": "bob@example.com", "note": "comma, \"quote\"\nnewline",
			}}); err != nil {
				t.Fatal(err)
			}
		}
		base := "/api/v1/activity-logs/export?action=" + url.QueryEscape("test.*")

		h.do("GET", base, "", nil).want(t, 401)
		h.do("GET", base, user.Access, nil).want(t, 403)
		h.do("GET", base+"&format=xml", admin.Access, nil).want(t, 400)
		h.do("GET", base+"&metadata="+url.QueryEscape(`{"email":"bob@example.com"}`), admin.Access, nil).want(t, 400)

		// JSON Lines, the default.
		r := h.do("GET", base, admin.Access, nil).want(t, 200)
		if r.Header.Get("Content-Type") != "application/x-ndjson" || !strings.Contains(r.Header.Get("Content-Disposition"), "activity-logs.jsonl") {
			t.Fatalf("headers %v", r.Header)
		}
		sc := bufio.NewScanner(bytes.NewReader(r.Body))
		var lines, last int
		last = n
		for sc.Scan() {
			var l workspace.ActivityLog
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("line %d: %v: %s", lines+1, err, sc.Bytes())
			}
			var m map[string]any
			json.Unmarshal(l.Metadata, &m)
			if m["i"] != float64(last-1) || m["email"] != "bob@example.com" || l.Action != "test.export" || *l.UserID != user.ID {
				t.Fatalf("line %d: %s", lines+1, sc.Bytes())
			}
			last--
			lines++
		}
		if lines != n {
			t.Fatalf("%d lines, want %d", lines, n)
		}

		// CSV, with a filter (bob's rows: the n exported, plus his
		// registration and login).
		r = h.do("GET", "/api/v1/activity-logs/export?format=csv&user_id="+strconv.Itoa(user.ID), admin.Access, nil).want(t, 200)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("content type %q", r.Header.Get("Content-Type"))
		}
		records, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(records[0], ",") != "id,created_at,user_id,action,ip_address,user_agent,metadata" || len(records) != 1+n+2 {
			t.Fatalf("%d records, header %v", len(records), records[0])
		}
		rec := records[1]
		var m map[string]any
		if err := json.Unmarshal([]byte(rec[6]), &m); err != nil || m["note"] != "comma, \"quote\"\nnewline" || m["email"] != "bob@example.com" {
			t.Fatalf("metadata cell %q: %v", rec[6], err)
		}
		if rec[2] != strconv.Itoa(user.ID) || rec[3] != "test.export" || rec[4] != "192.0.2.4" || rec[5] != "'=cmd|' /C calc'!A0" {
			t.Fatalf("record %q", rec)
		}
	})
}
