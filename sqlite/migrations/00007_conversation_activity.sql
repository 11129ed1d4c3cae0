-- +goose Up
-- The conversation list is ordered by activity and paginated: see the
-- PostgreSQL migration of the same name.

ALTER TABLE conversations ADD COLUMN last_message_id INTEGER NOT NULL DEFAULT 0;

UPDATE conversations SET last_message_id = COALESCE(
  (SELECT max(m.id) FROM messages m WHERE m.conversation_id = conversations.id AND m.deleted_at IS NULL), 0);

DROP INDEX idx_conversations_user_a;
DROP INDEX idx_conversations_user_b;
CREATE INDEX idx_conversations_kind_activity ON conversations (kind, last_message_id, id);
CREATE INDEX idx_conversations_user_a_activity ON conversations (user_a, last_message_id, id);
CREATE INDEX idx_conversations_user_b_activity ON conversations (user_b, last_message_id, id);
