-- +goose Up
-- Unread counts read the messages of a conversation after the reader's
-- cursor and skip their own and deleted ones: with user_id and deleted_at
-- carried in the (conversation_id, id) index that can be an index-only
-- scan (for pages the visibility map marks all-visible). Pages use the
-- same index as before.
DROP INDEX idx_messages_conversation_id_id;
CREATE INDEX idx_messages_conversation_id_id ON messages (conversation_id, id) INCLUDE (user_id, deleted_at);
