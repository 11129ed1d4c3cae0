-- +goose Up
-- The conversation list is ordered by activity and paginated. Each
-- conversation carries the id of its last live message (0 when it has
-- none), kept by the writes that change it (send, delete, deleting a user),
-- so a page of a user's conversations is three short index range scans
-- (channels, and direct conversations on either side) instead of a
-- max(id) over the messages of every conversation. Message ids are unique,
-- so the order (last_message_id DESC, id DESC) only ties on conversations
-- without messages, broken by id in byte order (COLLATE "C", as SQLite).

ALTER TABLE conversations ADD COLUMN last_message_id INTEGER NOT NULL DEFAULT 0;

UPDATE conversations c SET last_message_id = COALESCE(
  (SELECT max(m.id) FROM messages m WHERE m.conversation_id = c.id AND m.deleted_at IS NULL), 0);

DROP INDEX idx_conversations_user_a;
DROP INDEX idx_conversations_user_b;
CREATE INDEX idx_conversations_kind_activity ON conversations (kind, last_message_id, id COLLATE "C");
CREATE INDEX idx_conversations_user_a_activity ON conversations (user_a, last_message_id, id COLLATE "C");
CREATE INDEX idx_conversations_user_b_activity ON conversations (user_b, last_message_id, id COLLATE "C");
