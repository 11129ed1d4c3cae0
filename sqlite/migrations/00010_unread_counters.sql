-- +goose Up
-- Unread counts are kept, not counted. Before, every row of a conversation
-- list counted the messages after the reader's cursor, so a list cost grew
-- with what the reader had not read (and on PostgreSQL each fresh message
-- also cost a heap visit until vacuum marked its page all-visible). Now:
--
--   conversations.message_count  live (not deleted) messages
--   conversations.unread_a / _b  live unread direct messages to user_a / user_b
--   channel_reads.read_count     live messages with id <= last_read_id
--   channel_reads.own_after      the reader's own live messages after it
--
-- so a channel's unread count is message_count - read_count - own_after
-- and a direct conversation's is its side's counter. Sends, deletes,
-- reads and user deletion keep them, in the transaction of the change.
-- A channel sender gets a channel_reads row (cursor 0) on their first send.
ALTER TABLE conversations ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN unread_a INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN unread_b INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channel_reads ADD COLUMN read_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channel_reads ADD COLUMN own_after INTEGER NOT NULL DEFAULT 0;

UPDATE conversations SET
  message_count = (SELECT count(*) FROM messages m WHERE m.conversation_id = conversations.id AND m.deleted_at IS NULL),
  unread_a = (SELECT count(*) FROM messages m WHERE m.conversation_id = conversations.id AND m.deleted_at IS NULL AND NOT m.is_read AND m.user_id = conversations.user_b),
  unread_b = (SELECT count(*) FROM messages m WHERE m.conversation_id = conversations.id AND m.deleted_at IS NULL AND NOT m.is_read AND m.user_id = conversations.user_a);

INSERT INTO channel_reads (user_id, conversation_id, last_read_id, updated_at)
SELECT DISTINCT m.user_id, m.conversation_id, 0, strftime('%Y-%m-%d %H:%M:%f000', 'now')
FROM messages m JOIN conversations c ON c.id = m.conversation_id AND c.kind = 'channel'
WHERE m.deleted_at IS NULL
ON CONFLICT (user_id, conversation_id) DO NOTHING;

UPDATE channel_reads SET
  read_count = (SELECT count(*) FROM messages m WHERE m.conversation_id = channel_reads.conversation_id AND m.deleted_at IS NULL AND m.id <= channel_reads.last_read_id),
  own_after = (SELECT count(*) FROM messages m WHERE m.conversation_id = channel_reads.conversation_id AND m.deleted_at IS NULL AND m.user_id = channel_reads.user_id AND m.id > channel_reads.last_read_id);
