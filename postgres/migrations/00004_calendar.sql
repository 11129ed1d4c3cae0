-- +goose Up
-- Calendar extensions: the secret token of each user's iCalendar feed
-- (stored as a SHA-256 hash; rotating it replaces the row).
CREATE TABLE calendar_feeds (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  token_hash BYTEA NOT NULL UNIQUE,
  created_at TIMESTAMP NOT NULL
);
-- Attendee lookups ("events I attend") use the array overlap operator.
CREATE INDEX idx_events_attendees ON events USING gin(attendees);
