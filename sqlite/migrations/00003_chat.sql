-- +goose Up
-- Chat extensions. A conversation registry (so a user's conversations are
-- listed without scanning messages), per-user read cursors of channels,
-- and the index that makes "newest page of a conversation" one range scan.
-- Channel messages are stored with is_read = TRUE ("not applicable"): the
-- seed's partial index idx_messages_is_read (WHERE NOT is_read) then holds
-- only unread direct messages and stays small.

CREATE INDEX idx_messages_conversation_id_id ON messages (conversation_id, id);

CREATE TABLE conversations (
  id VARCHAR(255) PRIMARY KEY,
  kind VARCHAR(10) NOT NULL,
  user_a INTEGER REFERENCES users(id) ON DELETE CASCADE,
  user_b INTEGER REFERENCES users(id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  CONSTRAINT conversation_kind CHECK (kind IN ('direct', 'channel')),
  CONSTRAINT direct_has_users CHECK ((kind = 'direct') = (user_a IS NOT NULL AND user_b IS NOT NULL))
);
CREATE INDEX idx_conversations_user_a ON conversations(user_a);
CREATE INDEX idx_conversations_user_b ON conversations(user_b);

CREATE TABLE channel_reads (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  conversation_id VARCHAR(255) NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  last_read_id INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (user_id, conversation_id)
);
