package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"workspace"
)

// Config holds the auth settings; see DefaultConfig.
type Config struct {
	Secret       []byte        // HS256 key of access tokens (JWT_SECRET)
	AccessTTL    time.Duration // lifetime of an access token
	RefreshTTL   time.Duration // lifetime of a session (absolute, from login)
	RefreshGrace time.Duration // window for concurrent refreshes of one token
	BcryptCost   int
	// HashConcurrency bounds simultaneous bcrypt computations.
	HashConcurrency int
	// HashWait is how long a login waits for a hashing slot before 429.
	HashWait time.Duration
	// HashDuty is the share of time a hash may compute in a burst of
	// logins (0 < HashDuty <= 1): it rests at its pause points to stay
	// under it. 0 means 1, no rest.
	HashDuty float64
	// SessionCacheTTL is how long a checked session is trusted without
	// asking the database again: the upper bound for a revocation made on
	// another instance to take effect. It must stay under 5 s.
	SessionCacheTTL time.Duration
}

// DefaultConfig returns the production defaults with the given secret.
func DefaultConfig(secret []byte) Config {
	return Config{
		Secret:          secret,
		AccessTTL:       15 * time.Minute,
		RefreshTTL:      30 * 24 * time.Hour,
		RefreshGrace:    30 * time.Second,
		BcryptCost:      DefaultBcryptCost,
		HashConcurrency: max(1, runtime.GOMAXPROCS(0)/2),
		HashWait:        5 * time.Second,
		HashDuty:        0.5,
		SessionCacheTTL: 4 * time.Second,
	}
}

// Audience and issuer of access tokens; typ tells them from any other JWT.
const (
	tokenAudience = "workspace"
	tokenIssuer   = "workspace"
	typeAccess    = "access"
)

// Tokens is what a login or refresh returns to the client.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int // seconds until the access token expires
	SessionID    string
}

// Service signs users in and authenticates requests.
type Service struct {
	store      workspace.Store
	cfg        Config
	hash       *hasher
	refreshKey []byte
	ips        *Throttle
	accounts   *Throttle

	// Now returns the current time; tests may replace it.
	Now func() time.Time

	mu     sync.Mutex
	cache  map[string]cachedSession
	tokens map[string]Claims  // access tokens whose signature verified, by the whole token
	checks []jwt.ParserOption // the claim checks of an access token
	valid  *jwt.Validator     // those checks, for a remembered token
}

type cachedSession struct {
	session *workspace.Session
	user    *workspace.User
	checked time.Time
}

// New returns a Service. Secret must hold at least 32 bytes.
func New(store workspace.Store, cfg Config) (*Service, error) {
	if len(cfg.Secret) < 32 {
		return nil, errors.New("auth: the JWT secret must be at least 32 bytes")
	}
	h, err := newHasher(cfg.BcryptCost, cfg.HashConcurrency, cfg.HashWait, cfg.HashDuty)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	mac := hmac.New(sha256.New, cfg.Secret)
	mac.Write([]byte("workspace refresh-token rotation"))
	ips := NewThrottle(10, 15*time.Minute, time.Second, 15*time.Minute)
	ips.MaxInFlight = 8 // a busy office behind one NAT
	accounts := NewThrottle(5, 15*time.Minute, time.Second, time.Minute)
	accounts.MaxInFlight = 1
	s := &Service{
		store:      store,
		cfg:        cfg,
		hash:       h,
		refreshKey: mac.Sum(nil),
		ips:        ips,
		accounts:   accounts,
		Now:        time.Now,
		cache:      map[string]cachedSession{},
		tokens:     map[string]Claims{},
	}
	s.checks = []jwt.ParserOption{jwt.WithAudience(tokenAudience), jwt.WithIssuer(tokenIssuer),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(5 * time.Second),
		jwt.WithTimeFunc(func() time.Time { return s.Now() }), // s.Now may be replaced later
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()})}
	s.valid = jwt.NewValidator(s.checks...)
	return s, nil
}

// HashPassword validates and hashes a new password.
func (s *Service) HashPassword(ctx context.Context, field, pw string) (string, error) {
	if err := ValidatePassword(field, pw); err != nil {
		return "", err
	}
	return s.hash.Hash(ctx, pw)
}

// ErrBadCredentials is the one answer to a wrong password or unknown user.
var ErrBadCredentials = &workspace.Error{Code: workspace.EUNAUTHORIZED, Message: "Invalid username/email or password."}

// Login checks a password and opens a session. Unknown users and wrong
// passwords get the same error after the same amount of work; repeated
// failures from one IP or against one account are throttled (ETOOMANY).
func (s *Service) Login(ctx context.Context, login, password string) (*Tokens, *workspace.User, error) {
	actor := workspace.ActorFromContext(ctx)
	now := s.Now()
	u, err := s.store.FindUserByLogin(ctx, login)
	if err != nil && workspace.ErrorCode(err) != workspace.ENOTFOUND {
		return nil, nil, err
	}
	// The account key is the account itself when it exists, so its
	// username and its email share one budget.
	ipKey, accountKey := "ip:"+actor.IP, "login:"+normalizeLogin(login)
	if u != nil {
		accountKey = "user:" + strconv.Itoa(u.ID)
	}
	if d := s.ips.Begin(ipKey, now); d > 0 {
		return nil, nil, errThrottled(d)
	}
	if d := s.accounts.Begin(accountKey, now); d > 0 {
		s.ips.End(ipKey, now, false, false)
		return nil, nil, errThrottled(d)
	}
	// Only a wrong password counts against the keys; a success clears the
	// account; an error (database, hashing queue) does neither.
	failed, succeeded := false, false
	defer func() {
		now := s.Now()
		s.ips.End(ipKey, now, failed, false)
		s.accounts.End(accountKey, now, failed, succeeded)
	}()
	var hash string
	if u != nil {
		hash = u.PasswordHash
	}
	ok, upgrade, err := s.hash.Verify(ctx, hash, password)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		failed = true
		audit := workspace.Audit{Action: workspace.ActionLoginFailed, Metadata: map[string]any{"login": clampLogin(login)}}
		if u != nil {
			audit.UserID = &u.ID
		} else {
			audit.UserID = new(int) // attribute to nobody, whoever the caller is
		}
		if err := s.store.WriteAudit(ctx, audit); err != nil {
			return nil, nil, err
		}
		return nil, nil, ErrBadCredentials
	}
	succeeded = true

	// The upgrade is best effort: a busy hasher (a flood of logins queued
	// for the slot) must not turn a correct password into a 429; a later
	// login upgrades the hash.
	var rehash string
	if upgrade {
		if rehash, err = s.hash.Hash(ctx, password); err == errBusy {
			rehash = ""
		} else if err != nil {
			return nil, nil, err
		}
	}
	refresh, err := randomToken()
	if err != nil {
		return nil, nil, err
	}
	sess := &workspace.Session{
		ID: newSessionID(), UserID: u.ID, ExpiresAt: workspace.Truncate(now.Add(s.cfg.RefreshTTL)),
		IPAddress: actor.IP, UserAgent: workspace.ClampUserAgent(actor.UserAgent),
	}
	if err := s.store.CreateSession(ctx, workspace.Login{Session: sess, RefreshHash: hashToken(refresh), Rehash: rehash}); err != nil {
		return nil, nil, err
	}
	u, err = s.store.FindUserByID(ctx, u.ID) // with last_login
	if err != nil {
		return nil, nil, err
	}
	tokens, err := s.issue(u, sess.ID, refresh)
	return tokens, u, err
}

func errThrottled(d time.Duration) error {
	return &workspace.Error{Code: workspace.ETOOMANY, Message: "Too many failed sign-ins; wait before trying again.", RetryAfter: d}
}

// Refresh exchanges a refresh token for new tokens (see
// workspace.SessionStore.RotateRefreshToken for reuse detection). The
// successor of a token is derived from it with a server-side key, so two
// concurrent refreshes by one client both receive the same new token.
func (s *Service) Refresh(ctx context.Context, refresh string) (*Tokens, *workspace.User, error) {
	if len(refresh) < 16 || len(refresh) > 128 {
		return nil, nil, workspace.ErrInvalidRefresh
	}
	next := s.successor(refresh)
	sess, err := s.store.RotateRefreshToken(ctx, workspace.Rotation{
		OldHash: hashToken(refresh), NewHash: hashToken(next), Grace: s.cfg.RefreshGrace,
	})
	if err != nil {
		// A reuse revoked its session; access tokens of that session stop
		// working once the cache entry ages out (SessionCacheTTL).
		return nil, nil, err
	}
	u, err := s.store.FindUserByID(ctx, sess.UserID)
	if err != nil {
		return nil, nil, err
	}
	tokens, err := s.issue(u, sess.ID, next)
	return tokens, u, err
}

// Claims are the claims of an access token.
type Claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	Type      string `json:"typ"`
}

func (s *Service) issue(u *workspace.User, sessionID, refresh string) (*Tokens, error) {
	now := s.Now()
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   strconv.Itoa(u.ID),
			Issuer:    tokenIssuer,
			Audience:  jwt.ClaimStrings{tokenAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.AccessTTL)),
		},
		SessionID: sessionID,
		Type:      typeAccess,
	}
	access, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.cfg.Secret)
	if err != nil {
		return nil, err
	}
	return &Tokens{AccessToken: access, RefreshToken: refresh, ExpiresIn: int(s.cfg.AccessTTL.Seconds()), SessionID: sessionID}, nil
}

// ErrInvalidToken is the answer to any access token that does not
// authenticate.
var ErrInvalidToken = &workspace.Error{Code: workspace.EUNAUTHORIZED, Message: "Invalid or expired access token."}

// ParseAccessToken verifies an access token's signature (HS256 only),
// expiry, audience, issuer and type, and returns its claims.
//
// A token whose signature and claims verified once is remembered (by the
// whole token string, so by its signature too): later uses re-check only
// what time changes (expiry, issued-at), skipping the base64, JSON and
// HMAC work that was a tenth of a page request's CPU on PostgreSQL.
// Revocation is unaffected: Authenticate checks the session after this.
func (s *Service) ParseAccessToken(token string) (*Claims, error) {
	s.mu.Lock()
	c, ok := s.tokens[token]
	s.mu.Unlock()
	if ok {
		if s.valid.Validate(c) != nil {
			return nil, ErrInvalidToken
		}
		return &c, nil
	}
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.cfg.Secret, nil }, s.checks...)
	if err != nil || c.Type != typeAccess || c.SessionID == "" {
		return nil, ErrInvalidToken
	}
	s.mu.Lock()
	if len(s.tokens) > 50_000 {
		clear(s.tokens) // bounded; refilled on demand
	}
	s.tokens[token] = c
	s.mu.Unlock()
	return &c, nil
}

// Authenticate returns the user and session of an access token. The
// session is looked up in the database at most once per SessionCacheTTL, so
// a revocation (logout, password change, deletion, demotion) made on any
// instance applies within that time, and at once on this instance.
func (s *Service) Authenticate(ctx context.Context, token string) (*workspace.User, *workspace.Session, error) {
	c, err := s.ParseAccessToken(token)
	if err != nil {
		return nil, nil, err
	}
	now := s.Now()
	s.mu.Lock()
	e, ok := s.cache[c.SessionID]
	s.mu.Unlock()
	if !ok || now.Sub(e.checked) > s.cfg.SessionCacheTTL || now.Before(e.checked) {
		sess, u, err := s.store.FindSessionByID(ctx, c.SessionID)
		if workspace.ErrorCode(err) == workspace.ENOTFOUND {
			return nil, nil, ErrInvalidToken
		} else if err != nil {
			return nil, nil, err
		}
		e = cachedSession{session: sess, user: u, checked: now}
		s.mu.Lock()
		if len(s.cache) > 50_000 {
			clear(s.cache) // bounded; refilled on demand
		}
		s.cache[c.SessionID] = e
		s.mu.Unlock()
	}
	if !e.session.Active(now) || strconv.Itoa(e.user.ID) != c.Subject {
		return nil, nil, ErrInvalidToken
	}
	return e.user, e.session, nil
}

// forget drops cached sessions matching fn.
func (s *Service) forget(fn func(cachedSession) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.cache {
		if fn(e) {
			delete(s.cache, k)
		}
	}
}

// ForgetUser drops every cached session of a user, so that a deletion,
// demotion or password change applies to the next request at once.
func (s *Service) ForgetUser(userID int) {
	s.forget(func(e cachedSession) bool { return e.user.ID == userID })
}

// RevokeSession ends one session of the user (logout or revocation).
func (s *Service) RevokeSession(ctx context.Context, userID int, sessionID, action string) error {
	if err := s.store.RevokeSession(ctx, userID, sessionID, action); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.cache, sessionID)
	s.mu.Unlock()
	return nil
}

// ChangePassword checks the current password, stores the new one and
// revokes every other session of the user.
func (s *Service) ChangePassword(ctx context.Context, u *workspace.User, sessionID, current, next string) error {
	if err := ValidatePassword("new_password", next); err != nil {
		return err
	}
	fresh, err := s.store.FindUserByID(ctx, u.ID)
	if err != nil {
		return err
	}
	ok, _, err := s.hash.Verify(ctx, fresh.PasswordHash, current)
	if err != nil {
		return err
	}
	if !ok {
		return workspace.Invalid("current_password", "is not correct")
	}
	hash, err := s.hash.Hash(ctx, next)
	if err != nil {
		return err
	}
	if err := s.store.SetPassword(ctx, u.ID, hash, sessionID); err != nil {
		return err
	}
	s.forget(func(e cachedSession) bool { return e.user.ID == u.ID && e.session.ID != sessionID })
	return nil
}

func (s *Service) successor(refresh string) string {
	mac := hmac.New(sha256.New, s.refreshKey)
	mac.Write([]byte(refresh))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// randomToken returns 256 random bits, base64url-encoded.
func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func newSessionID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}
