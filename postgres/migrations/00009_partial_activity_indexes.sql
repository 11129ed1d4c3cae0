-- +goose Up
-- Each activity index holds only the conversations it serves: channels in
-- the first, direct conversations in the other two. Before, a channel's
-- NULL user_a and user_b were indexed too, so every message sent moved the
-- conversation in three indexes (a new entry in each, as last_message_id
-- is a key); now it moves in one. That is a third of the index writes on
-- the send path and of the dead index entries a conversation list skips
-- until vacuum. The page query's `kind = 'channel'` and `user_a = $1`
-- imply the predicates, so the plans are unchanged.
DROP INDEX idx_conversations_kind_activity;
DROP INDEX idx_conversations_user_a_activity;
DROP INDEX idx_conversations_user_b_activity;
CREATE INDEX idx_conversations_kind_activity ON conversations (last_message_id, id COLLATE "C") WHERE kind = 'channel';
CREATE INDEX idx_conversations_user_a_activity ON conversations (user_a, last_message_id, id COLLATE "C") WHERE user_a IS NOT NULL;
CREATE INDEX idx_conversations_user_b_activity ON conversations (user_b, last_message_id, id COLLATE "C") WHERE user_b IS NOT NULL;
