package workspace_test

import (
	"testing"
	"time"

	"workspace"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, id := range []int64{1, 42, workspace.MaxID} {
		got, err := workspace.DecodeCursor(workspace.EncodeCursor(id))
		if err != nil || got != id {
			t.Fatalf("round trip of %d = %d, %v", id, got, err)
		}
	}
	for _, bad := range []string{"x", "aQ", "!!!", workspace.EncodeCursor(0)[:2], "aTA", workspace.EncodeCursor(workspace.MaxID + 1)} {
		if _, err := workspace.DecodeCursor(bad); workspace.ErrorCode(err) != workspace.EINVALID {
			t.Fatalf("DecodeCursor(%q) error = %v, want EINVALID", bad, err)
		}
	}
}

// FuzzDecodeCursor: any string decodes to a positive id that re-encodes to
// an equivalent cursor, or to EINVALID; never a panic.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(workspace.EncodeCursor(7))
	f.Add("")
	f.Add("aS0x")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := workspace.DecodeCursor(s)
		if err != nil {
			if workspace.ErrorCode(err) != workspace.EINVALID {
				t.Fatalf("error code %q", workspace.ErrorCode(err))
			}
			return
		}
		if s != "" && id <= 0 {
			t.Fatalf("id %d from %q", id, s)
		}
	})
}

func TestRedactMetadata(t *testing.T) {
	in := map[string]any{
		"lot_id": 7, "password": "p", "new_password": "p", "refresh_token": "t", "api_key": "k",
		"nested": map[string]any{"Authorization": "Bearer x", "ok": "yes"},
		"list":   []any{map[string]any{"secret": "s"}},
	}
	out := workspace.RedactMetadata(in)
	for _, k := range []string{"password", "new_password", "refresh_token", "api_key"} {
		if out[k] != workspace.Redacted {
			t.Errorf("%s = %v", k, out[k])
		}
	}
	if out["lot_id"] != 7 || out["nested"].(map[string]any)["ok"] != "yes" ||
		out["nested"].(map[string]any)["Authorization"] != workspace.Redacted ||
		out["list"].([]any)[0].(map[string]any)["secret"] != workspace.Redacted {
		t.Fatalf("redacted = %v", out)
	}
	if in["password"] != "p" {
		t.Fatal("input modified")
	}
}

func TestDecideRotation(t *testing.T) {
	now := time.Now()
	recent, old := now.Add(-time.Second), now.Add(-time.Hour)
	for _, tc := range []struct {
		rotated   *time.Time
		successor bool
		want      workspace.RotationOutcome
	}{
		{nil, false, workspace.RotateNow},
		{&recent, true, workspace.RotateRepeat},
		{&recent, false, workspace.RotateReuse}, // the successor was already used
		{&old, true, workspace.RotateReuse},
	} {
		if got := workspace.DecideRotation(tc.rotated, tc.successor, now, 30*time.Second); got != tc.want {
			t.Errorf("DecideRotation(%v, %v) = %v, want %v", tc.rotated, tc.successor, got, tc.want)
		}
	}
}

func TestValidateUser(t *testing.T) {
	email := func(s string) *string { return &s }
	for _, tc := range []struct {
		u     workspace.User
		field string
	}{
		{workspace.User{Username: "abc", PasswordHash: "h"}, ""},
		{workspace.User{Username: "a.b_c-1", Email: email("a.b+c@ex-ample.co.uk"), PasswordHash: "h"}, ""},
		{workspace.User{Username: "ab", PasswordHash: "h"}, "username"},
		{workspace.User{Username: "-abc", PasswordHash: "h"}, "username"},
		{workspace.User{Username: "a@b", PasswordHash: "h"}, "username"},
		{workspace.User{Username: "abc", Email: email("a@b"), PasswordHash: "h"}, "email"},
		{workspace.User{Username: "abc", Email: email("a b@c.de"), PasswordHash: "h"}, "email"},
		{workspace.User{Username: "abc", Role: "root", PasswordHash: "h"}, "role"},
		{workspace.User{Username: "abc"}, "password"},
	} {
		err := tc.u.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.u, err)
			}
			continue
		}
		e, ok := err.(*workspace.Error)
		if !ok || e.Code != workspace.EINVALID || e.Fields[0].Field != tc.field {
			t.Errorf("%+v: error %v, want EINVALID on %s", tc.u, err, tc.field)
		}
	}
}

// FuzzParseConversation: a parsed id re-formats to itself, and anything
// else is EINVALID.
func FuzzParseConversation(f *testing.F) {
	for _, s := range []string{"general", "dm:1:2", "dm:2:1", "dm:01:2", "DM:1:2", "a b", "", "dm:1:", "x.y-z_0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		ref, err := workspace.ParseConversation(id)
		if err != nil {
			if workspace.ErrorCode(err) != workspace.EINVALID {
				t.Fatalf("code %q", workspace.ErrorCode(err))
			}
			return
		}
		if ref.Kind == workspace.KindDirect && workspace.DirectConversation(ref.B, ref.A) != id {
			t.Fatalf("%q parsed as %+v", id, ref)
		}
		if ref.ID != id {
			t.Fatalf("id %q became %q", id, ref.ID)
		}
	})
}

// FuzzDecodeTimeCursor: never panics; what decodes re-encodes identically.
func FuzzDecodeTimeCursor(f *testing.F) {
	f.Add(workspace.EncodeTimeCursor(time.Unix(1700000000, 123000), 42))
	f.Add("")
	f.Add("dDE3MDBfNDI")
	f.Fuzz(func(t *testing.T, s string) {
		ts, id, ok, err := workspace.DecodeTimeCursor(s)
		if err != nil || !ok {
			return
		}
		if again := workspace.EncodeTimeCursor(ts, id); again != s {
			// Non-canonical spellings (leading zeros, +) may decode; they must
			// still name the same position.
			ts2, id2, _, _ := workspace.DecodeTimeCursor(again)
			if !ts2.Equal(ts) || id2 != id {
				t.Fatalf("%q → (%v, %d) → %q", s, ts, id, again)
			}
		}
	})
}

func TestConversationCursorRoundTrip(t *testing.T) {
	for _, c := range []struct {
		last int
		id   string
	}{{0, "general"}, {42, "dm:3:17"}, {workspace.MaxID, "a_b.c-d"}} {
		last, id, ok, err := workspace.DecodeConversationCursor(workspace.EncodeConversationCursor(c.last, c.id))
		if err != nil || !ok || last != c.last || id != c.id {
			t.Fatalf("round trip of (%d, %q) = (%d, %q, %v, %v)", c.last, c.id, last, id, ok, err)
		}
	}
	if _, _, ok, err := workspace.DecodeConversationCursor(""); ok || err != nil {
		t.Fatalf("empty cursor: ok %v, err %v", ok, err)
	}
	for _, bad := range []string{"x", "!!!", workspace.EncodeCursor(5), workspace.EncodeConversationCursor(-1, "general"),
		workspace.EncodeConversationCursor(workspace.MaxID+1, "general"), workspace.EncodeConversationCursor(3, "Bad Name"),
		workspace.EncodeConversationCursor(3, "dm:2:1")} {
		if _, _, _, err := workspace.DecodeConversationCursor(bad); workspace.ErrorCode(err) != workspace.EINVALID {
			t.Fatalf("DecodeConversationCursor(%q) error = %v, want EINVALID", bad, err)
		}
	}
}

// FuzzDecodeConversationCursor: never panics; what decodes names a valid
// conversation and re-encodes to the same position.
func FuzzDecodeConversationCursor(f *testing.F) {
	f.Add(workspace.EncodeConversationCursor(42, "dm:1:2"))
	f.Add("")
	f.Add("djBfZ2VuZXJhbA")
	f.Fuzz(func(t *testing.T, s string) {
		last, id, ok, err := workspace.DecodeConversationCursor(s)
		if err != nil || !ok {
			return
		}
		if _, err := workspace.ParseConversation(id); err != nil || last < 0 || last > workspace.MaxID {
			t.Fatalf("%q decoded to (%d, %q)", s, last, id)
		}
		l2, id2, _, err := workspace.DecodeConversationCursor(workspace.EncodeConversationCursor(last, id))
		if err != nil || l2 != last || id2 != id {
			t.Fatalf("%q → (%d, %q) does not round-trip", s, last, id)
		}
	})
}
