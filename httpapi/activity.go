package httpapi

import (
	"context"
	"encoding/json"
	"time"

	"workspace"
)

// ActivityListInput filters the audit trail.
type ActivityListInput struct {
	UserID   int       `query:"user_id" minimum:"0" doc:"Admins: any user; others: only their own id."`
	Action   string    `query:"action" maxLength:"255" doc:"Exact action, or a prefix ending in '*' (auth.*)."`
	Since    time.Time `query:"since" doc:"RFC 3339, inclusive."`
	Until    time.Time `query:"until" doc:"RFC 3339, exclusive."`
	Metadata string    `query:"metadata" maxLength:"2048" doc:"JSON object the metadata must contain, e.g. {\"lot_id\":7}."`
	Cursor   string    `query:"cursor" maxLength:"128"`
	Limit    int       `query:"limit" minimum:"0" maximum:"200" doc:"Page size (default 50)."`
}

// ActivityListOutput is a page of the audit trail.
type ActivityListOutput struct {
	Body struct {
		ActivityLogs []*workspace.ActivityLog `json:"activity_logs"`
		NextCursor   string                   `json:"next_cursor,omitempty"`
	}
}

// handleActivityList: users read their own rows, admins everyone's.
func (s *Server) handleActivityList(ctx context.Context, in *ActivityListInput) (*ActivityListOutput, error) {
	a := workspace.ActorFromContext(ctx)
	f := workspace.ActivityFilter{Cursor: in.Cursor, Limit: in.Limit}
	switch {
	case in.UserID != 0:
		if !a.IsAdmin() && in.UserID != a.UserID {
			return nil, s.Error(ctx, workspace.Errorf(workspace.EFORBIDDEN, "Only admins read other users' activity."))
		}
		f.UserID = &in.UserID
	case !a.IsAdmin():
		f.UserID = &a.UserID
	}
	if in.Action != "" {
		f.Action = &in.Action
	}
	if !in.Since.IsZero() {
		f.Since = &in.Since
	}
	if !in.Until.IsZero() {
		f.Until = &in.Until
	}
	if in.Metadata != "" {
		if err := json.Unmarshal([]byte(in.Metadata), &f.Metadata); err != nil {
			return nil, s.Error(ctx, workspace.Invalid("metadata", "must be a JSON object"))
		}
	}
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
