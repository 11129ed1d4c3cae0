package httpapi

import (
	"context"
	"time"

	"workspace"
	"workspace/auth"
)

// RegisterInput is the body of a registration.
type RegisterInput struct {
	Body struct {
		Username string  `json:"username" minLength:"3" maxLength:"255" example:"alice" doc:"Letters a-z, digits, '.', '_' and '-'; unique case-insensitively."`
		Email    *string `json:"email,omitempty" maxLength:"255" example:"alice@example.com"`
		Password string  `json:"password" minLength:"8" maxLength:"72" doc:"8 to 72 bytes."`
	}
}

// UserOutput answers with one user.
type UserOutput struct {
	Body *workspace.User
}

func (s *Server) handleAuthRegister(ctx context.Context, in *RegisterInput) (*UserOutput, error) {
	b := in.Body
	u := &workspace.User{Username: b.Username, Email: b.Email, PasswordHash: "-"}
	if err := u.Validate(); err != nil {
		return nil, s.Error(ctx, err)
	}
	if !s.AllowRegistration {
		users, _, err := s.Store.FindUsers(ctx, workspace.UserFilter{Limit: 1})
		if err != nil {
			return nil, s.Error(ctx, err)
		}
		if len(users) > 0 {
			return nil, s.Error(ctx, workspace.Errorf(workspace.EFORBIDDEN, "Registration is closed; ask an admin for an account."))
		}
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

// LoginInput is the body of a sign-in. Exactly one of login, username or
// email names the account.
type LoginInput struct {
	Body struct {
		Login    string `json:"login,omitempty" maxLength:"255" doc:"Username or email."`
		Username string `json:"username,omitempty" maxLength:"255"`
		Email    string `json:"email,omitempty" maxLength:"255"`
		Password string `json:"password" maxLength:"1024"`
	}
}

// TokenOutput answers a login or refresh.
type TokenOutput struct {
	Body struct {
		AccessToken  string          `json:"access_token"`
		RefreshToken string          `json:"refresh_token"`
		TokenType    string          `json:"token_type" enum:"Bearer"`
		ExpiresIn    int             `json:"expires_in" doc:"Seconds until the access token expires."`
		SessionID    string          `json:"session_id"`
		User         *workspace.User `json:"user"`
	}
}

func tokenOutput(t *auth.Tokens, u *workspace.User) *TokenOutput {
	out := &TokenOutput{}
	out.Body.AccessToken, out.Body.RefreshToken, out.Body.TokenType = t.AccessToken, t.RefreshToken, "Bearer"
	out.Body.ExpiresIn, out.Body.SessionID, out.Body.User = t.ExpiresIn, t.SessionID, u
	return out
}

func (s *Server) handleAuthLogin(ctx context.Context, in *LoginInput) (*TokenOutput, error) {
	login := in.Body.Login
	for _, alt := range []string{in.Body.Username, in.Body.Email} {
		if login == "" {
			login = alt
		}
	}
	if login == "" {
		return nil, s.Error(ctx, workspace.Invalid("login", "is required (username or email)"))
	}
	if in.Body.Password == "" {
		return nil, s.Error(ctx, workspace.Invalid("password", "is required"))
	}
	t, u, err := s.Auth.Login(ctx, login, in.Body.Password)
	if err != nil {
		switch workspace.ErrorCode(err) {
		case workspace.EUNAUTHORIZED:
			s.Metrics.LoginFailures.Inc()
		case workspace.ETOOMANY:
			s.Metrics.LoginThrottled.Inc()
		}
		return nil, s.Error(ctx, err)
	}
	return tokenOutput(t, u), nil
}

// RefreshInput is the body of a token refresh.
type RefreshInput struct {
	Body struct {
		RefreshToken string `json:"refresh_token" maxLength:"512"`
	}
}

func (s *Server) handleAuthRefresh(ctx context.Context, in *RefreshInput) (*TokenOutput, error) {
	t, u, err := s.Auth.Refresh(ctx, in.Body.RefreshToken)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return tokenOutput(t, u), nil
}

func (s *Server) handleAuthLogout(ctx context.Context, _ *struct{}) (*struct{}, error) {
	a := workspace.ActorFromContext(ctx)
	return nil, s.Error(ctx, s.Auth.RevokeSession(ctx, a.UserID, a.SessionID, workspace.ActionLogout))
}

func (s *Server) handleAuthMe(ctx context.Context, _ *struct{}) (*UserOutput, error) {
	u, err := s.Store.FindUserByID(ctx, workspace.ActorFromContext(ctx).UserID)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return &UserOutput{Body: u}, nil
}

// MeUpdateInput changes the signed-in user's own profile.
type MeUpdateInput struct {
	Body struct {
		Username *string `json:"username,omitempty" minLength:"3" maxLength:"255"`
		Email    *string `json:"email,omitempty" maxLength:"255" doc:"Empty string removes the email."`
	}
}

func (s *Server) handleAuthMeUpdate(ctx context.Context, in *MeUpdateInput) (*UserOutput, error) {
	id := workspace.ActorFromContext(ctx).UserID
	u, err := s.Store.UpdateUser(ctx, id, workspace.UserUpdate{Username: in.Body.Username, Email: in.Body.Email})
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	s.Auth.ForgetUser(id)
	return &UserOutput{Body: u}, nil
}

// PasswordInput changes the signed-in user's password.
type PasswordInput struct {
	Body struct {
		CurrentPassword string `json:"current_password" maxLength:"1024"`
		NewPassword     string `json:"new_password" minLength:"8" maxLength:"72"`
	}
}

func (s *Server) handleAuthPassword(ctx context.Context, in *PasswordInput) (*struct{}, error) {
	a := workspace.ActorFromContext(ctx)
	u := &workspace.User{ID: a.UserID}
	return nil, s.Error(ctx, s.Auth.ChangePassword(ctx, u, a.SessionID, in.Body.CurrentPassword, in.Body.NewPassword))
}

// SessionView is a session as its owner sees it.
type SessionView struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IPAddress  string    `json:"ip_address,omitempty"`
	UserAgent  string    `json:"user_agent,omitempty"`
	Current    bool      `json:"current" doc:"The session of the token making this request."`
}

// SessionListOutput lists sessions.
type SessionListOutput struct {
	Body struct {
		Sessions []SessionView `json:"sessions"`
	}
}

func (s *Server) handleAuthSessionList(ctx context.Context, _ *struct{}) (*SessionListOutput, error) {
	a := workspace.ActorFromContext(ctx)
	list, err := s.Store.FindSessions(ctx, a.UserID)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	out := &SessionListOutput{}
	out.Body.Sessions = make([]SessionView, 0, len(list))
	for _, x := range list {
		out.Body.Sessions = append(out.Body.Sessions, SessionView{ID: x.ID, CreatedAt: x.CreatedAt, LastUsedAt: x.LastUsedAt,
			ExpiresAt: x.ExpiresAt, IPAddress: x.IPAddress, UserAgent: x.UserAgent, Current: x.ID == a.SessionID})
	}
	return out, nil
}

// SessionIDInput names a session.
type SessionIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (s *Server) handleAuthSessionRevoke(ctx context.Context, in *SessionIDInput) (*struct{}, error) {
	a := workspace.ActorFromContext(ctx)
	return nil, s.Error(ctx, s.Auth.RevokeSession(ctx, a.UserID, in.ID, workspace.ActionSessionRevoke))
}
