-- +goose Up
-- Accounts extensions (see the PostgreSQL migration of the same name).

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
  created_at TEXT NOT NULL,
  last_used_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  revoked_at TEXT,
  ip_address TEXT,
  user_agent TEXT
);
CREATE INDEX idx_sessions_user ON sessions(user_id, created_at DESC);

CREATE TABLE refresh_tokens (
  token_hash BLOB PRIMARY KEY,
  session_id VARCHAR(64) NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  rotated_at TEXT
);
CREATE INDEX idx_refresh_tokens_session ON refresh_tokens(session_id);
