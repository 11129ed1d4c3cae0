package httpapi

import (
	"context"
	"encoding/json"

	"github.com/danielgtaylor/huma/v2"

	"workspace"
)

// actionType is a shortcut's action_type in a request. Its schema lists
// the types the domain knows (workspace.ShortcutActionTypes), so the
// OpenAPI document follows the one map that defines them.
type actionType string

// Schema implements huma.SchemaProvider.
func (actionType) Schema(huma.Registry) *huma.Schema {
	var enum []any
	for _, t := range workspace.ShortcutActionTypes() {
		enum = append(enum, t)
	}
	return &huma.Schema{Type: huma.TypeString, Enum: enum,
		Description: `What the shortcut opens; action_data depends on it: url {"url": "https://…"}, app {"app", "args"?}, file and folder {"path"}.`}
}

// ShortcutListOutput is the caller's shortcuts in order. The list is not
// paged: a user has at most workspace.MaxShortcuts, and a reorder names
// them all.
type ShortcutListOutput struct {
	Body struct {
		Shortcuts []*workspace.Shortcut `json:"shortcuts"`
	}
}

func shortcutList(list []*workspace.Shortcut) *ShortcutListOutput {
	out := &ShortcutListOutput{}
	out.Body.Shortcuts = list
	if list == nil {
		out.Body.Shortcuts = []*workspace.Shortcut{}
	}
	return out
}

// handleShortcutList: shortcuts are private, the caller sees their own.
func (s *Server) handleShortcutList(ctx context.Context, _ *struct{}) (*ShortcutListOutput, error) {
	list, err := s.Store.FindShortcuts(ctx, workspace.ActorFromContext(ctx).UserID)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return shortcutList(list), nil
}

// ShortcutCreateInput adds a shortcut at the end of the caller's list; id,
// user_id, order_index and the timestamps are not writable.
type ShortcutCreateInput struct {
	Body struct {
		Name        string          `json:"name" minLength:"1" maxLength:"255"`
		Description *string         `json:"description,omitempty" maxLength:"10000"`
		Icon        *string         `json:"icon,omitempty" maxLength:"100"`
		ActionType  actionType      `json:"action_type"`
		ActionData  json.RawMessage `json:"action_data" doc:"A JSON object whose members depend on action_type; unknown members are refused."`
	}
}

// ShortcutOutput answers with one shortcut.
type ShortcutOutput struct {
	Body *workspace.Shortcut
}

func (s *Server) handleShortcutCreate(ctx context.Context, in *ShortcutCreateInput) (*ShortcutOutput, error) {
	b := in.Body
	sc := &workspace.Shortcut{
		UserID:      workspace.ActorFromContext(ctx).UserID,
		Name:        b.Name,
		Description: b.Description,
		Icon:        b.Icon,
		ActionType:  string(b.ActionType),
		ActionData:  b.ActionData,
	}
	if err := s.Store.CreateShortcut(ctx, sc); err != nil {
		return nil, s.Error(ctx, err)
	}
	return &ShortcutOutput{Body: sc}, nil
}

// ShortcutIDInput names one of the caller's shortcuts.
type ShortcutIDInput struct {
	ID int `path:"id" minimum:"1" maximum:"2147483647"`
}

// handleShortcutGet: another user's shortcut is 404, as if it did not exist.
func (s *Server) handleShortcutGet(ctx context.Context, in *ShortcutIDInput) (*ShortcutOutput, error) {
	sc, err := s.Store.FindShortcutByID(ctx, workspace.ActorFromContext(ctx).UserID, in.ID)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return &ShortcutOutput{Body: sc}, nil
}

// ShortcutUpdateInput changes one of the caller's shortcuts. The position
// changes only through the reorder operation.
type ShortcutUpdateInput struct {
	ID   int `path:"id" minimum:"1" maximum:"2147483647"`
	Body struct {
		Name        *string         `json:"name,omitempty" minLength:"1" maxLength:"255"`
		Description *string         `json:"description,omitempty" maxLength:"10000" doc:"Empty string removes it."`
		Icon        *string         `json:"icon,omitempty" maxLength:"100" doc:"Empty string removes it."`
		ActionType  *actionType     `json:"action_type,omitempty" doc:"The action data, changed or kept, must suit the new type."`
		ActionData  json.RawMessage `json:"action_data,omitempty" doc:"A JSON object whose members depend on action_type."`
	}
}

func (s *Server) handleShortcutUpdate(ctx context.Context, in *ShortcutUpdateInput) (*ShortcutOutput, error) {
	b := in.Body
	upd := workspace.ShortcutUpdate{Name: b.Name, Description: b.Description, Icon: b.Icon, ActionData: b.ActionData}
	if b.ActionType != nil {
		t := string(*b.ActionType)
		upd.ActionType = &t
	}
	sc, err := s.Store.UpdateShortcut(ctx, workspace.ActorFromContext(ctx).UserID, in.ID, upd)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return &ShortcutOutput{Body: sc}, nil
}

func (s *Server) handleShortcutDelete(ctx context.Context, in *ShortcutIDInput) (*struct{}, error) {
	if err := s.Store.DeleteShortcut(ctx, workspace.ActorFromContext(ctx).UserID, in.ID); err != nil {
		return nil, s.Error(ctx, err)
	}
	return nil, nil
}

// ShortcutReorderInput is the caller's full list of shortcut ids in the
// new order.
type ShortcutReorderInput struct {
	Body struct {
		IDs []int `json:"ids" maxItems:"1000" doc:"Every one of your shortcut ids, each once, in the new order."`
	}
}

func (s *Server) handleShortcutReorder(ctx context.Context, in *ShortcutReorderInput) (*ShortcutListOutput, error) {
	list, err := s.Store.ReorderShortcuts(ctx, workspace.ActorFromContext(ctx).UserID, in.Body.IDs)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return shortcutList(list), nil
}
