-- +goose Up
-- Unread counts read the messages of a conversation after the reader's
-- cursor and skip their own and deleted ones: with user_id and deleted_at
-- in the (conversation_id, id) index that is an index-only range scan,
-- not one table lookup per message. Pages use the same index as before.
DROP INDEX idx_messages_conversation_id_id;
CREATE INDEX idx_messages_conversation_id_id ON messages (conversation_id, id, user_id, deleted_at);
