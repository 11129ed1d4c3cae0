package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Shortcut is a user's quick action (the seed's shortcuts table). It is
// private to its owner, UserID. OrderIndex places it in the owner's list:
// the owner's shortcuts are numbered 0..n-1 with no gap.
type Shortcut struct {
	ID          int             `json:"id"`
	UserID      int             `json:"user_id"`
	Name        string          `json:"name"`
	Description *string         `json:"description"`
	Icon        *string         `json:"icon"`
	ActionType  string          `json:"action_type"`
	ActionData  json.RawMessage `json:"action_data"`
	OrderIndex  int             `json:"order_index"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// Limits of the shortcuts table (name VARCHAR(255) and the seed's
// name_length CHECK, icon VARCHAR(100)) and of the API.
const (
	MaxShortcutNameLen        = 255
	MaxShortcutIconLen        = 100
	MaxShortcutDescriptionLen = 10000
	// MaxShortcutActionDataLen bounds the JSON of action_data, in bytes.
	MaxShortcutActionDataLen = 8192
	// MaxShortcuts bounds the shortcuts of one user, so that the list and a
	// reorder (which names every shortcut) stay small.
	MaxShortcuts = 1000
)

// Audit actions of shortcuts.
const (
	ActionShortcutCreate  = "shortcut.create"
	ActionShortcutUpdate  = "shortcut.update"
	ActionShortcutDelete  = "shortcut.delete"
	ActionShortcutReorder = "shortcut.reorder"
)

// actionValidator checks the members of an action_data object.
type actionValidator func(v *Validation, data map[string]json.RawMessage)

// shortcutActions is the set of action types, each with the validator of
// its action_data. Adding a type is adding an entry here.
var shortcutActions = map[string]actionValidator{
	"url":    validateURLAction,
	"app":    validateAppAction,
	"file":   validatePathAction,
	"folder": validatePathAction,
}

// ShortcutActionTypes returns the known action types, sorted.
func ShortcutActionTypes() []string {
	types := make([]string, 0, len(shortcutActions))
	for t := range shortcutActions {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Limits of action_data members.
const (
	maxActionURLLen  = 2048
	maxActionAppLen  = 1024
	maxActionArgs    = 64
	maxActionArgLen  = 1024
	maxActionPathLen = 4096
)

// ValidateShortcutAction checks action_data against its action_type: a JSON
// object with exactly the members the type allows. url: {"url"} an
// absolute http(s) URL with a host (javascript:, data:, file: and every
// other scheme are refused); app: {"app", optional "args": [strings]};
// file and folder: {"path"}. Returns EINVALID naming the field.
func ValidateShortcutAction(actionType string, data json.RawMessage) error {
	var v Validation
	validateShortcutAction(&v, actionType, data)
	return v.Err()
}

func validateShortcutAction(v *Validation, actionType string, data json.RawMessage) {
	validate, ok := shortcutActions[actionType]
	if !ok {
		v.Add("action_type", "must be one of %s", strings.Join(ShortcutActionTypes(), ", "))
		return
	}
	if len(data) == 0 {
		v.Add("action_data", "is required")
		return
	}
	if len(data) > MaxShortcutActionDataLen {
		v.Add("action_data", "must be at most %d bytes of JSON", MaxShortcutActionDataLen)
		return
	}
	obj, err := decodeObject(data)
	if err != nil {
		v.Add("action_data", "%s", err.Error())
		return
	}
	validate(v, obj)
}

// decodeObject decodes a JSON object into its members, refusing anything
// else, duplicate keys (engines and clients disagree on which one wins) and
// invalid UTF-8.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	notObject := fmt.Errorf("must be a JSON object")
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("must be valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, notObject
	}
	m := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, notObject
		}
		key, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, notObject
		}
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("has the member %q twice", key)
		}
		m[key] = raw
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, notObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, notObject
	}
	return m, nil
}

// onlyMembers refuses members other than allowed.
func onlyMembers(v *Validation, data map[string]json.RawMessage, allowed ...string) {
	var unknown []string
	for k := range data {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		v.Add("action_data."+k, "is not allowed (allowed: %s)", strings.Join(allowed, ", "))
	}
}

// jsonString decodes a JSON string (not null, which would decode as "").
func jsonString(raw json.RawMessage) (string, bool) {
	var x any
	if err := json.Unmarshal(raw, &x); err != nil {
		return "", false
	}
	s, ok := x.(string)
	return s, ok
}

// actionString validates a string member: non-blank, no NUL, at most max
// characters. It reports whether the member is valid.
func actionString(v *Validation, field string, raw json.RawMessage, max int) (string, bool) {
	s, ok := jsonString(raw)
	if !ok {
		v.Add(field, "must be a string")
		return "", false
	}
	if strings.TrimSpace(s) == "" {
		v.Add(field, "must not be empty")
		return "", false
	}
	n := len(v.fields)
	validateBoundedText(v, field, s, max)
	return s, len(v.fields) == n
}

func validateURLAction(v *Validation, data map[string]json.RawMessage) {
	onlyMembers(v, data, "url")
	raw, ok := data["url"]
	if !ok {
		v.Add("action_data.url", "is required")
		return
	}
	s, ok := actionString(v, "action_data.url", raw, maxActionURLLen)
	if !ok {
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		v.Add("action_data.url", "must be a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		v.Add("action_data.url", "must be an http or https URL")
	case u.Host == "" || u.Hostname() == "":
		v.Add("action_data.url", "must name a host")
	}
}

func validateAppAction(v *Validation, data map[string]json.RawMessage) {
	onlyMembers(v, data, "app", "args")
	if raw, ok := data["app"]; !ok {
		v.Add("action_data.app", "is required")
	} else {
		actionString(v, "action_data.app", raw, maxActionAppLen)
	}
	raw, ok := data["args"]
	if !ok {
		return
	}
	var args []json.RawMessage
	if err := json.Unmarshal(raw, &args); err != nil || args == nil {
		v.Add("action_data.args", "must be an array of strings")
		return
	}
	if len(args) > maxActionArgs {
		v.Add("action_data.args", "must have at most %d items", maxActionArgs)
		return
	}
	for i, a := range args {
		field := fmt.Sprintf("action_data.args[%d]", i)
		s, ok := jsonString(a)
		if !ok {
			v.Add(field, "must be a string")
			continue
		}
		validateBoundedText(v, field, s, maxActionArgLen)
	}
}

func validatePathAction(v *Validation, data map[string]json.RawMessage) {
	onlyMembers(v, data, "path")
	if raw, ok := data["path"]; !ok {
		v.Add("action_data.path", "is required")
	} else {
		actionString(v, "action_data.path", raw, maxActionPathLen)
	}
}

func validateShortcutName(v *Validation, name string) {
	if strings.TrimSpace(name) == "" {
		v.Add("name", "must not be empty")
		return
	}
	validateBoundedText(v, "name", name, MaxShortcutNameLen)
}

// Validate checks every field against the seed's CHECKs, the column widths
// and the action rules (ValidateShortcutAction).
func (sc *Shortcut) Validate() error {
	var v Validation
	validateShortcutName(&v, sc.Name)
	if sc.Description != nil {
		validateBoundedText(&v, "description", *sc.Description, MaxShortcutDescriptionLen)
	}
	if sc.Icon != nil {
		validateBoundedText(&v, "icon", *sc.Icon, MaxShortcutIconLen)
	}
	validateShortcutAction(&v, sc.ActionType, sc.ActionData)
	return v.Err()
}

// PrepareNewShortcut validates a shortcut about to be created and stores
// its action_data compactly. An empty description or icon is stored as
// NULL. The store sets OrderIndex (the end of the owner's list) and the
// timestamps.
func PrepareNewShortcut(sc *Shortcut) error {
	sc.Description, sc.Icon = nilIfEmpty(sc.Description), nilIfEmpty(sc.Icon)
	if err := sc.Validate(); err != nil {
		return err
	}
	if sc.UserID <= 0 {
		return Invalid("user_id", "is required (the owner)")
	}
	sc.ActionData = compactJSON(sc.ActionData)
	return nil
}

func nilIfEmpty(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}

func compactJSON(data json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return data
	}
	return b.Bytes()
}

// ShortcutUpdate changes the non-nil fields of a shortcut. A Description
// or Icon pointing to "" clears it. ActionType and ActionData are checked
// together after they are applied, so changing the type alone needs data
// that suits the new type.
type ShortcutUpdate struct {
	Name        *string
	Description *string
	Icon        *string
	ActionType  *string
	ActionData  json.RawMessage // nil: unchanged
}

// Validate checks the fields being changed on their own.
func (up ShortcutUpdate) Validate() error {
	var v Validation
	if up.Name != nil {
		validateShortcutName(&v, *up.Name)
	}
	if up.Description != nil {
		validateBoundedText(&v, "description", *up.Description, MaxShortcutDescriptionLen)
	}
	if up.Icon != nil {
		validateBoundedText(&v, "icon", *up.Icon, MaxShortcutIconLen)
	}
	if up.ActionType != nil {
		if _, ok := shortcutActions[*up.ActionType]; !ok {
			v.Add("action_type", "must be one of %s", strings.Join(ShortcutActionTypes(), ", "))
		}
	}
	return v.Err()
}

// ApplyShortcutUpdate applies upd to sc in memory, with updated_at at now,
// and returns the audit row that describes the change (nil when nothing
// changes). The row names the changed fields, never the action data, which
// may hold private paths or URLs with credentials. Returns EINVALID if the
// result is invalid.
func ApplyShortcutUpdate(sc *Shortcut, upd ShortcutUpdate, now time.Time) (*Audit, error) {
	var changed []string
	if upd.Name != nil && *upd.Name != sc.Name {
		sc.Name = *upd.Name
		changed = append(changed, "name")
	}
	if upd.Description != nil && !sameOptional(sc.Description, *upd.Description) {
		sc.Description = nilIfEmpty(upd.Description)
		changed = append(changed, "description")
	}
	if upd.Icon != nil && !sameOptional(sc.Icon, *upd.Icon) {
		sc.Icon = nilIfEmpty(upd.Icon)
		changed = append(changed, "icon")
	}
	if upd.ActionType != nil && *upd.ActionType != sc.ActionType {
		sc.ActionType = *upd.ActionType
		changed = append(changed, "action_type")
	}
	if upd.ActionData != nil && !sameJSON(sc.ActionData, upd.ActionData) {
		sc.ActionData = upd.ActionData
		changed = append(changed, "action_data")
	}
	if len(changed) == 0 {
		return nil, nil
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	sc.ActionData = compactJSON(sc.ActionData)
	sc.UpdatedAt = now
	return &Audit{Action: ActionShortcutUpdate, Metadata: map[string]any{"shortcut_id": sc.ID, "changed": changed}}, nil
}

// sameOptional reports whether a nullable column already holds v ("" is
// NULL).
func sameOptional(cur *string, v string) bool {
	if cur == nil {
		return v == ""
	}
	return *cur == v
}

// sameJSON reports whether a and b are the same JSON value (PostgreSQL's
// JSONB gives back its own spacing and key order).
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// ShortcutCreatedAudit is the audit row of a new shortcut. It leaves out
// the action data (see ApplyShortcutUpdate).
func ShortcutCreatedAudit(sc *Shortcut) Audit {
	return Audit{Action: ActionShortcutCreate, Metadata: map[string]any{
		"shortcut_id": sc.ID, "action_type": sc.ActionType, "order_index": sc.OrderIndex,
	}}
}

// ShortcutDeletedAudit is the audit row of a deleted shortcut.
func ShortcutDeletedAudit(sc *Shortcut) Audit {
	return Audit{Action: ActionShortcutDelete, Metadata: map[string]any{
		"shortcut_id": sc.ID, "action_type": sc.ActionType, "order_index": sc.OrderIndex,
	}}
}

// ShortcutReorderedAudit is the audit row of a reorder: the ids in their
// new order.
func ShortcutReorderedAudit(ids []int) Audit {
	return Audit{Action: ActionShortcutReorder, Metadata: map[string]any{"ids": ids}}
}

// CheckShortcutOrder checks a reorder request against the ids of the
// owner's shortcuts: ids must name each of them exactly once. Returns
// ENOTFOUND for an id that is not one of them (another user's shortcut
// reads as missing, as everywhere else) and EINVALID for a duplicate or a
// missing id.
func CheckShortcutOrder(ids, owned []int) error {
	seen := make(map[int]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return Invalid("ids", "lists shortcut %d more than once", id)
		}
		seen[id] = true
	}
	for _, id := range ids {
		if !slices.Contains(owned, id) {
			return Errorf(ENOTFOUND, "Shortcut %d not found.", id)
		}
	}
	if len(ids) != len(owned) {
		var missing []int
		for _, id := range owned {
			if !seen[id] {
				missing = append(missing, id)
			}
		}
		return Invalid("ids", "must list every one of your %d shortcuts; missing %v", len(owned), missing)
	}
	return nil
}

// ShortcutStore persists shortcuts. Every method is scoped to the owner
// userID: another user's shortcut reads as missing (ENOTFOUND), never as
// forbidden. Every mutation writes its activity_logs row in the same
// transaction, with the actor from the context.
type ShortcutStore interface {
	// FindShortcuts returns the user's shortcuts in order (order_index
	// 0..n-1); there are at most MaxShortcuts.
	FindShortcuts(ctx context.Context, userID int) ([]*Shortcut, error)
	// FindShortcutByID returns ENOTFOUND if there is no such shortcut or it
	// belongs to another user.
	FindShortcutByID(ctx context.Context, userID, id int) (*Shortcut, error)
	// CreateShortcut appends sc at the end of its owner's (sc.UserID) list
	// and fills ID, OrderIndex and timestamps. Returns EINVALID if sc is
	// invalid, ENOTFOUND if the owner does not exist and ECONFLICT if the
	// owner already has MaxShortcuts.
	CreateShortcut(ctx context.Context, sc *Shortcut) error
	// UpdateShortcut applies upd (see ApplyShortcutUpdate). Returns
	// ENOTFOUND and EINVALID.
	UpdateShortcut(ctx context.Context, userID, id int, upd ShortcutUpdate) (*Shortcut, error)
	// DeleteShortcut deletes a shortcut and moves the later ones up, so the
	// order stays dense. Returns ENOTFOUND.
	DeleteShortcut(ctx context.Context, userID, id int) error
	// ReorderShortcuts gives the user's shortcuts the order of ids (which
	// must name each exactly once, see CheckShortcutOrder) atomically, and
	// returns them in that order. Returns EINVALID and ENOTFOUND.
	ReorderShortcuts(ctx context.Context, userID int, ids []int) ([]*Shortcut, error)
}
