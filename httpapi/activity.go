package httpapi

import (
	"context"
	"encoding/json"
	"time"

	"workspace"
)

// ActivityFilterParams are the filters of the audit trail, shared by the
// list and the export.
type ActivityFilterParams struct {
	UserID   int       `query:"user_id" minimum:"0" maximum:"2147483647" doc:"Admins: any user; others: only their own id."`
	Action   string    `query:"action" maxLength:"255" doc:"Exact action, or a prefix ending in '*' (auth.*)."`
	Since    time.Time `query:"since" doc:"RFC 3339, inclusive."`
	Until    time.Time `query:"until" doc:"RFC 3339, exclusive."`
	Metadata string    `query:"metadata" maxLength:"2048" doc:"JSON object the metadata must contain, e.g. {\"lot_id\":7}."`
}

// ActivityListInput filters the audit trail.
type ActivityListInput struct {
	ActivityFilterParams
	Cursor string `query:"cursor" maxLength:"128"`
	Limit  int    `query:"limit" minimum:"0" maximum:"200" doc:"Page size (default 50)."`
}

// ActivityListOutput is a page of the audit trail.
type ActivityListOutput struct {
	Body struct {
		ActivityLogs []*workspace.ActivityLog `json:"activity_logs"`
		NextCursor   string                   `json:"next_cursor,omitempty"`
	}
}

// filter turns the parameters into a store filter: users read their own
// rows, admins everyone's.
func (p *ActivityFilterParams) filter(ctx context.Context) (workspace.ActivityFilter, error) {
	a := workspace.ActorFromContext(ctx)
	var f workspace.ActivityFilter
	switch {
	case p.UserID != 0:
		if !a.IsAdmin() && p.UserID != a.UserID {
			return f, workspace.Errorf(workspace.EFORBIDDEN, "Only admins read other users' activity.")
		}
		f.UserID = &p.UserID
	case !a.IsAdmin():
		f.UserID = &a.UserID
	}
	if p.Action != "" {
		f.Action = &p.Action
	}
	if !p.Since.IsZero() {
		f.Since = &p.Since
	}
	if !p.Until.IsZero() {
		f.Until = &p.Until
	}
	if p.Metadata != "" {
		if err := json.Unmarshal([]byte(p.Metadata), &f.Metadata); err != nil {
			return f, workspace.Invalid("metadata", "must be a JSON object")
		}
	}
	return f, nil
}

func (s *Server) handleActivityList(ctx context.Context, in *ActivityListInput) (*ActivityListOutput, error) {
	f, err := in.filter(ctx)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	f.Cursor, f.Limit = in.Cursor, in.Limit
	list, next, err := s.Store.FindActivityLogs(ctx, f)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	out := &ActivityListOutput{}
	out.Body.ActivityLogs, out.Body.NextCursor = nonNil(list), next
	return out, nil
}

func (s *Server) handleUserActive(ctx context.Context, in *PageInput) (*UserListOutput, error) {
	users, next, err := s.Store.FindActiveUsers(ctx, in.Cursor, in.Limit)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	out := &UserListOutput{}
	out.Body.Users, out.Body.NextCursor = nonNil(users), next
	return out, nil
}
