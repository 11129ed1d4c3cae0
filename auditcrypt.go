package workspace

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Sensitive audit metadata is encrypted at rest with AES-256-GCM. A value
// is stored as the JSON string
//
//	enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>
//
// whose plaintext is the JSON encoding of the original value and whose
// additional data binds it to its metadata key, so a ciphertext cannot be
// moved to another key unnoticed. The key id names the key that encrypted
// it: new rows use the current (first) key, older rows stay readable as
// long as their key is still configured, which is how keys rotate.
//
// Passwords, tokens and secrets are never encrypted: RedactMetadata drops
// them before encryption is considered.

// encPrefix starts every encrypted metadata value.
const encPrefix = "enc:v1:"

// DefaultSensitiveKeys are the metadata keys encrypted when no list is
// configured: personal data an audit row may carry. A key matches when it
// equals one of them or ends with "_" and one of them ("new_email",
// "client_ip"), case-insensitively, at any depth.
var DefaultSensitiveKeys = []string{"email", "login", "ip", "ip_address", "phone"}

// AuditKey is one AES-256 key with its id.
type AuditKey struct {
	ID  string
	Key []byte // 32 bytes
}

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// ParseAuditKeys parses "id:base64key,id:base64key": the first key is the
// current one, the others only decrypt older rows. Keys are 32 bytes in
// standard or URL base64, padded or not. Errors never quote a key.
func ParseAuditKeys(s string) ([]AuditKey, error) {
	var keys []AuditKey
	seen := map[string]bool{}
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok || !keyIDRE.MatchString(id) {
			return nil, fmt.Errorf("audit key %d: want id:base64key with an id of letters, digits, '_' or '-'", i+1)
		}
		if seen[id] {
			return nil, fmt.Errorf("audit key %q: listed twice", id)
		}
		seen[id] = true
		key, err := decodeKey(b64)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("audit key %q: must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)", id)
		}
		keys = append(keys, AuditKey{ID: id, Key: key})
	}
	if len(keys) == 0 {
		return nil, errors.New("audit keys: none given")
	}
	return keys, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// AuditCipher encrypts the values of sensitive metadata keys of audit rows
// and decrypts them for readers. It is safe for concurrent use.
type AuditCipher struct {
	current   string
	aeads     map[string]cipher.AEAD
	sensitive []string // lower case
}

// NewAuditCipher returns a cipher that encrypts with keys[0] and decrypts
// with any of keys. sensitive lists the metadata keys to encrypt
// (DefaultSensitiveKeys when empty).
func NewAuditCipher(keys []AuditKey, sensitive []string) (*AuditCipher, error) {
	if len(keys) == 0 {
		return nil, errors.New("audit cipher: no key")
	}
	c := &AuditCipher{current: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, k := range keys {
		if len(k.Key) != 32 {
			return nil, fmt.Errorf("audit cipher: key %q is not 32 bytes", k.ID)
		}
		block, err := aes.NewCipher(k.Key)
		if err != nil {
			return nil, fmt.Errorf("audit cipher: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("audit cipher: %w", err)
		}
		c.aeads[k.ID] = aead
	}
	if len(sensitive) == 0 {
		sensitive = DefaultSensitiveKeys
	}
	for _, s := range sensitive {
		c.sensitive = append(c.sensitive, strings.ToLower(strings.TrimSpace(s)))
	}
	return c, nil
}

// Sensitive reports whether the value of metadata key k is encrypted.
func (c *AuditCipher) Sensitive(k string) bool {
	k = strings.ToLower(k)
	for _, s := range c.sensitive {
		if k == s || strings.HasSuffix(k, "_"+s) {
			return true
		}
	}
	return false
}

// EncryptMetadata returns a copy of m (already redacted) in which the value
// of every sensitive key, at any depth, is encrypted with the current key.
// Redacted values stay as they are.
func (c *AuditCipher) EncryptMetadata(m map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if s, _ := v.(string); s == Redacted || v == nil {
			out[k] = v
			continue
		}
		if c.Sensitive(k) {
			enc, err := c.encrypt(k, v)
			if err != nil {
				return nil, err
			}
			out[k] = enc
			continue
		}
		nv, err := c.encryptValue(v)
		if err != nil {
			return nil, err
		}
		out[k] = nv
	}
	return out, nil
}

func (c *AuditCipher) encryptValue(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		return c.EncryptMetadata(v)
	case []any:
		out := make([]any, len(v))
		for i := range v {
			nv, err := c.encryptValue(v[i])
			if err != nil {
				return nil, err
			}
			out[i] = nv
		}
		return out, nil
	}
	return v, nil
}

func (c *AuditCipher) encrypt(key string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encrypt metadata: %w", err)
	}
	aead := c.aeads[c.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("encrypt metadata: %w", err)
	}
	sealed := aead.Seal(nonce, nonce, plain, additionalData(key))
	return encPrefix + c.current + ":" + base64.RawURLEncoding.EncodeToString(sealed), nil
}

func additionalData(key string) []byte {
	return []byte("workspace audit metadata v1\x00" + strings.ToLower(key))
}

// DecryptMetadata returns raw (a metadata JSON document) with every
// encrypted value replaced by its plaintext. A value whose key id is no
// longer configured, or that does not authenticate, is left encrypted: the
// row is still shown, and the reader sees which key it needs.
func (c *AuditCipher) DecryptMetadata(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || !strings.Contains(string(raw), encPrefix) {
		return raw, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("decrypt metadata: %w", err)
	}
	out, err := json.Marshal(c.decryptValue("", v))
	if err != nil {
		return nil, fmt.Errorf("decrypt metadata: %w", err)
	}
	return out, nil
}

func (c *AuditCipher) decryptValue(key string, v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = c.decryptValue(k, e)
		}
		return v
	case []any:
		for i := range v {
			v[i] = c.decryptValue(key, v[i])
		}
		return v
	case string:
		if plain, ok := c.decrypt(key, v); ok {
			return plain
		}
	}
	return v
}

func (c *AuditCipher) decrypt(key, s string) (any, bool) {
	rest, ok := strings.CutPrefix(s, encPrefix)
	if !ok {
		return nil, false
	}
	id, b64, ok := strings.Cut(rest, ":")
	aead := c.aeads[id]
	if !ok || aead == nil {
		return nil, false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, false
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], additionalData(key))
	if err != nil {
		return nil, false
	}
	var v any
	if err := json.Unmarshal(plain, &v); err != nil {
		return nil, false
	}
	return v, true
}

// CheckFilter refuses a metadata filter on an encrypted key: ciphertexts
// are randomized, so no stored row could match.
func (c *AuditCipher) CheckFilter(m map[string]any) error {
	if c == nil {
		return nil
	}
	for k := range m {
		if c.Sensitive(k) {
			return Invalid("metadata", "%q is encrypted at rest and cannot be filtered on", k)
		}
	}
	return nil
}

// EncodeMetadataWith returns the redacted JSON of a's metadata with its
// sensitive values encrypted by c (stored as given when c is nil).
func (a Audit) EncodeMetadataWith(c *AuditCipher) ([]byte, error) {
	if a.Metadata == nil {
		return nil, nil
	}
	m := RedactMetadata(a.Metadata)
	if c != nil {
		var err error
		if m, err = c.EncryptMetadata(m); err != nil {
			return nil, err
		}
	}
	return json.Marshal(m)
}

// DecryptLogs decrypts the metadata of each row in place (nothing when c
// is nil).
func (c *AuditCipher) DecryptLogs(logs []*ActivityLog) error {
	if c == nil {
		return nil
	}
	for _, l := range logs {
		m, err := c.DecryptMetadata(l.Metadata)
		if err != nil {
			return err
		}
		l.Metadata = m
	}
	return nil
}
