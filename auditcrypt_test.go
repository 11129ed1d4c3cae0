package workspace_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"workspace"
)

func testKey(id string, b byte) string {
	return id + ":" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(rune(b)), 32)))
}

func TestParseAuditKeys(t *testing.T) {
	for _, tc := range []struct {
		name, in, wantErr string
		wantIDs           string
	}{
		{name: "OK", in: testKey("k2", 'b') + ", " + testKey("k1", 'a'), wantIDs: "k2,k1"},
		{name: "Short", in: "k1:" + base64.StdEncoding.EncodeToString([]byte("short")), wantErr: "32 bytes"},
		{name: "NoID", in: base64.StdEncoding.EncodeToString(make([]byte, 32)), wantErr: "id:base64key"},
		{name: "Twice", in: testKey("k1", 'a') + "," + testKey("k1", 'b'), wantErr: "twice"},
		{name: "Empty", in: " , ", wantErr: "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := workspace.ParseAuditKeys(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, k := range keys {
				ids = append(ids, k.ID)
			}
			if got := strings.Join(ids, ","); got != tc.wantIDs {
				t.Fatalf("ids = %s, want %s", got, tc.wantIDs)
			}
		})
	}
	// Ensure an error never quotes key material.
	_, err := workspace.ParseAuditKeys("k1:c2VjcmV0LWtleQ")
	if err == nil || strings.Contains(err.Error(), "c2VjcmV0LWtleQ") {
		t.Fatalf("err = %v", err)
	}
}

func mustCipher(t *testing.T, keys string) *workspace.AuditCipher {
	t.Helper()
	k, err := workspace.ParseAuditKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	c, err := workspace.NewAuditCipher(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Ensure sensitive values (by name or "_name" suffix, at any depth) are
// encrypted, secrets stay redacted, and a ciphertext moved to another key
// does not decrypt.
func TestAuditCipher(t *testing.T) {
	c := mustCipher(t, testKey("k1", 'a'))
	raw, err := workspace.Audit{Metadata: map[string]any{
		"email": "a@example.com", "new_email": "b@example.com", "password": "hunter22", "lot_id": 7,
		"nested": []any{map[string]any{"client_ip": "192.0.2.1"}},
	}}.EncodeMetadataWith(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"a@example.com", "b@example.com", "hunter22", "192.0.2.1"} {
		if strings.Contains(string(raw), plain) {
			t.Fatalf("stored %s", raw)
		}
	}
	if !strings.Contains(string(raw), `"password":"[REDACTED]"`) || !strings.Contains(string(raw), `"lot_id":7`) {
		t.Fatalf("stored %s", raw)
	}
	dec, err := c.DecryptMetadata(raw)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(dec, &m)
	if m["email"] != "a@example.com" || m["new_email"] != "b@example.com" || m["lot_id"] != 7.0 ||
		m["nested"].([]any)[0].(map[string]any)["client_ip"] != "192.0.2.1" {
		t.Fatalf("decrypted %s", dec)
	}

	// The email ciphertext under another key name stays encrypted.
	var stored map[string]any
	json.Unmarshal(raw, &stored)
	moved, _ := json.Marshal(map[string]any{"login": stored["email"]})
	dec, _ = c.DecryptMetadata(moved)
	if !strings.Contains(string(dec), "enc:v1:k1:") {
		t.Fatalf("moved ciphertext decrypted: %s", dec)
	}
	if err := c.CheckFilter(map[string]any{"email": "x"}); workspace.ErrorCode(err) != workspace.EINVALID {
		t.Fatalf("filter on email: %v", err)
	}
}

func TestPrettySize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 10239: "10239 bytes", 10240: "10 kB", 8192 * 1024: "8192 kB", 10 << 20: "10 MB", 3 << 40: "3072 GB"} {
		if got := workspace.PrettySize(n); got != want {
			t.Errorf("PrettySize(%d) = %q, want %q", n, got, want)
		}
	}
}
