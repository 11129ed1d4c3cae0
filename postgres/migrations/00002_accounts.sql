-- +goose Up
-- Accounts extensions. The seed's tables get no new column: roles, sessions
-- and refresh tokens live in tables of their own. Extra indexes on seed
-- tables are allowed: usernames and emails are unique case-insensitively.

CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE user_roles (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  role VARCHAR(20) NOT NULL DEFAULT 'user',
  CONSTRAINT role_valid CHECK (role IN ('user', 'admin'))
);
CREATE INDEX idx_user_roles_role ON user_roles(role);

CREATE TABLE sessions (
  id VARCHAR(64) PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at TIMESTAMP NOT NULL DEFAULT NOW(),
  last_used_at TIMESTAMP NOT NULL DEFAULT NOW(),
  expires_at TIMESTAMP NOT NULL,
  revoked_at TIMESTAMP,
  ip_address INET,
  user_agent TEXT
);
CREATE INDEX idx_sessions_user ON sessions(user_id, created_at DESC);

-- Every refresh token a session was given, by SHA-256 hash; rotated_at marks
-- the ones already exchanged, so reuse of an old token is recognised.
CREATE TABLE refresh_tokens (
  token_hash BYTEA PRIMARY KEY,
  session_id VARCHAR(64) NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  created_at TIMESTAMP NOT NULL DEFAULT NOW(),
  rotated_at TIMESTAMP
);
CREATE INDEX idx_refresh_tokens_session ON refresh_tokens(session_id);
