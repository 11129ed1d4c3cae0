-- +goose Up
-- Each activity index holds only the conversations it serves: channels in
-- the first, direct conversations in the other two. A send moves its
-- conversation in one index instead of three (channels carried NULL
-- user_a/user_b entries that moved with every message). See the
-- PostgreSQL migration of the same name.
DROP INDEX idx_conversations_kind_activity;
DROP INDEX idx_conversations_user_a_activity;
DROP INDEX idx_conversations_user_b_activity;
CREATE INDEX idx_conversations_kind_activity ON conversations (last_message_id, id) WHERE kind = 'channel';
CREATE INDEX idx_conversations_user_a_activity ON conversations (user_a, last_message_id, id) WHERE user_a IS NOT NULL;
CREATE INDEX idx_conversations_user_b_activity ON conversations (user_b, last_message_id, id) WHERE user_b IS NOT NULL;
