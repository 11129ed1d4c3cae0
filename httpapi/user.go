package httpapi

import (
	"context"

	"workspace"
)

// UserListInput filters the user list.
type UserListInput struct {
	Q      string `query:"q" maxLength:"255" doc:"Substring of the username or email."`
	Role   string `query:"role" enum:"user,admin,"`
	Cursor string `query:"cursor" maxLength:"64"`
	Limit  int    `query:"limit" minimum:"0" maximum:"200" doc:"Page size (default 50)."`
}

// UserListOutput is one page of users.
type UserListOutput struct {
	Body struct {
		Users      []*workspace.User `json:"users"`
		NextCursor string            `json:"next_cursor,omitempty"`
	}
}

func (s *Server) handleUserList(ctx context.Context, in *UserListInput) (*UserListOutput, error) {
	f := workspace.UserFilter{Cursor: in.Cursor, Limit: in.Limit}
	if in.Q != "" {
		f.Query = &in.Q
	}
	if in.Role != "" {
		r := workspace.Role(in.Role)
		f.Role = &r
	}
	users, next, err := s.Store.FindUsers(ctx, f)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	out := &UserListOutput{}
	out.Body.Users, out.Body.NextCursor = users, next
	if out.Body.Users == nil {
		out.Body.Users = []*workspace.User{}
	}
	return out, nil
}

// UserCreateInput is an admin creating an account.
type UserCreateInput struct {
	Body struct {
		Username string  `json:"username" minLength:"3" maxLength:"255"`
		Email    *string `json:"email,omitempty" maxLength:"255"`
		Password string  `json:"password" minLength:"8" maxLength:"72"`
		Role     string  `json:"role,omitempty" enum:"user,admin" default:"user"`
	}
}

func (s *Server) handleUserCreate(ctx context.Context, in *UserCreateInput) (*UserOutput, error) {
	b := in.Body
	role := workspace.Role(b.Role)
	if role == "" {
		role = workspace.RoleUser
	}
	u := &workspace.User{Username: b.Username, Email: b.Email, Role: role, PasswordHash: "-"}
	if err := u.Validate(); err != nil {
		return nil, s.Error(ctx, err)
	}
	hash, err := s.Auth.HashPassword(ctx, "password", b.Password)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	u.PasswordHash = hash
	if err := s.Store.CreateUser(ctx, u); err != nil {
		return nil, s.Error(ctx, err)
	}
	return &UserOutput{Body: u}, nil
}

// UserIDInput names a user.
type UserIDInput struct {
	ID int `path:"id" minimum:"1" maximum:"2147483647"`
}

// errUserNotFound hides whether an account the caller may not see exists.
var errUserNotFound = workspace.Errorf(workspace.ENOTFOUND, "User not found.")

// handleUserGet: every signed-in user may look a teammate up (a chat needs
// names); the email and last login are shown to admins and the user only.
func (s *Server) handleUserGet(ctx context.Context, in *UserIDInput) (*UserOutput, error) {
	u, err := s.Store.FindUserByID(ctx, in.ID)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	if a := workspace.ActorFromContext(ctx); !a.IsAdmin() && a.UserID != u.ID {
		u.Email, u.LastLogin = nil, nil
	}
	return &UserOutput{Body: u}, nil
}

// UserUpdateInput changes a user.
type UserUpdateInput struct {
	ID   int `path:"id" minimum:"1" maximum:"2147483647"`
	Body struct {
		Username *string `json:"username,omitempty" minLength:"3" maxLength:"255"`
		Email    *string `json:"email,omitempty" maxLength:"255" doc:"Empty string removes the email."`
		Role     *string `json:"role,omitempty" enum:"user,admin" doc:"Admins only."`
	}
}

func (s *Server) handleUserUpdate(ctx context.Context, in *UserUpdateInput) (*UserOutput, error) {
	a := workspace.ActorFromContext(ctx)
	if !a.IsAdmin() {
		if a.UserID != in.ID {
			return nil, s.Error(ctx, errUserNotFound)
		}
		if in.Body.Role != nil {
			return nil, s.Error(ctx, workspace.Errorf(workspace.EFORBIDDEN, "Only an admin can change roles."))
		}
	}
	upd := workspace.UserUpdate{Username: in.Body.Username, Email: in.Body.Email}
	if in.Body.Role != nil {
		r := workspace.Role(*in.Body.Role)
		upd.Role = &r
	}
	u, err := s.Store.UpdateUser(ctx, in.ID, upd)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	s.Auth.ForgetUser(in.ID) // a demotion applies to the next request
	return &UserOutput{Body: u}, nil
}

func (s *Server) handleUserDelete(ctx context.Context, in *UserIDInput) (*struct{}, error) {
	if a := workspace.ActorFromContext(ctx); !a.IsAdmin() && a.UserID != in.ID {
		return nil, s.Error(ctx, errUserNotFound)
	}
	if err := s.Store.DeleteUser(ctx, in.ID); err != nil {
		return nil, s.Error(ctx, err)
	}
	s.Auth.ForgetUser(in.ID)
	return nil, nil
}
