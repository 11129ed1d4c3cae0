-- +goose Up
-- Live WebSocket connections, so every instance can answer "who is online".
-- Each instance refreshes seen_at of its own rows; rows of an instance that
-- died expire by age.
CREATE TABLE presence (
  connection_id VARCHAR(64) PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  instance_id VARCHAR(64) NOT NULL,
  connected_at TIMESTAMP NOT NULL,
  seen_at TIMESTAMP NOT NULL
);
CREATE INDEX idx_presence_instance ON presence(instance_id);
CREATE INDEX idx_presence_seen ON presence(seen_at);
