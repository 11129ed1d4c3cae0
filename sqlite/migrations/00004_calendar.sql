-- +goose Up
-- Calendar extensions: the secret token of each user's iCalendar feed
-- (stored as a SHA-256 hash; rotating it replaces the row).
CREATE TABLE calendar_feeds (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  token_hash BLOB NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);
