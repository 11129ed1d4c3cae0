package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"workspace"
)

const messageColumns = `m.id, m.user_id, u.username, COALESCE(m.conversation_id, ''), m.text, m.is_read, m.created_at, m.updated_at, m.deleted_at`

const messageFrom = ` FROM messages m JOIN users u ON u.id = m.user_id `

func scanMessage(s scanner) (*workspace.Message, error) {
	var m workspace.Message
	if err := s.Scan(messageDest(&m)...); err != nil {
		return nil, mapErr(err)
	}
	return &m, nil
}

// messageDest is the scan destination of a messageColumns row into m.
func messageDest(m *workspace.Message) []any {
	return []any{&m.ID, &m.UserID, &m.Username, &m.ConversationID, &m.Text, &m.IsRead,
		timeScanner{&m.CreatedAt}, timeScanner{&m.UpdatedAt}, nullTimeScanner{&m.DeletedAt}}
}

// scanMessages reads the rows of a messageColumns SELECT expected to hold
// up to capacity rows (workspace.ReadMessages).
func scanMessages(rows *sql.Rows, err error, capacity int) ([]*workspace.Message, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	list, err := workspace.ReadMessages(rows, messageDest, capacity)
	return list, mapErr(err)
}

var errConversationNotFound = workspace.Errorf(workspace.ENOTFOUND, "Conversation not found.")

// readable returns the parsed conversation if readerID may read it.
func readable(readerID int, conversationID string) (workspace.ConversationRef, error) {
	ref, err := workspace.ParseConversation(conversationID)
	if err != nil {
		return ref, err
	}
	if !ref.CanRead(readerID) {
		return ref, errConversationNotFound
	}
	return ref, nil
}

// registerConversation records a conversation once and, when sent is a
// message just stored (nil: none), counts it and makes it the last
// message. A channel sender's own_after counts it too (migration 00010).
func registerConversation(ctx context.Context, tx *Tx, ref workspace.ConversationRef, sent *workspace.Message) error {
	var a, b any
	if ref.Kind == workspace.KindDirect {
		a, b = ref.A, ref.B
	}
	last, n := 0, 0
	if sent != nil {
		last, n = sent.ID, 1
	}
	unreadA, unreadB := ref.UnreadDelta(sent)
	_, err := tx.ExecContext(ctx, `INSERT INTO conversations (id, kind, user_a, user_b, created_at, last_message_id, message_count, unread_a, unread_b)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET last_message_id = max(last_message_id, excluded.last_message_id),
		message_count = message_count + excluded.message_count, unread_a = unread_a + excluded.unread_a, unread_b = unread_b + excluded.unread_b`,
		ref.ID, ref.Kind, a, b, fmtTime(tx.now), last, n, unreadA, unreadB)
	if err != nil || sent == nil || ref.Kind != workspace.KindChannel {
		return mapErr(err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO channel_reads (user_id, conversation_id, last_read_id, updated_at, read_count, own_after)
		VALUES (?, ?, 0, ?, 0, 1) ON CONFLICT (user_id, conversation_id) DO UPDATE SET own_after = own_after + 1`,
		sent.UserID, ref.ID, fmtTime(tx.now))
	return mapErr(err)
}

// refreshLastMessages recomputes the last live message of conversations
// whose last message is gone (its author was deleted).
const refreshLastMessages = `UPDATE conversations SET last_message_id = COALESCE(
	(SELECT max(m.id) FROM messages m WHERE m.conversation_id = conversations.id AND m.deleted_at IS NULL), 0)
	WHERE last_message_id <> 0 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = conversations.last_message_id)`

// forgetAuthorCounts and forgetAuthorReads take the live channel messages
// of user ?1, about to be deleted, out of the counters of migration 00010:
// each channel's message count, and each other reader's read_count for
// those at or before their cursor. Conversations first, then cursors, the
// lock order of every write of these counters.
const (
	forgetAuthorCounts = `UPDATE conversations SET message_count = message_count -
		(SELECT count(*) FROM messages m WHERE m.conversation_id = conversations.id AND m.user_id = ?1 AND m.deleted_at IS NULL)
		WHERE kind = 'channel' AND id IN (SELECT conversation_id FROM messages WHERE user_id = ?1 AND deleted_at IS NULL)`
	forgetAuthorReads = `UPDATE channel_reads SET read_count = read_count -
		(SELECT count(*) FROM messages m WHERE m.conversation_id = channel_reads.conversation_id AND m.user_id = ?1
		   AND m.deleted_at IS NULL AND m.id <= channel_reads.last_read_id)
		WHERE user_id <> ?1 AND conversation_id IN (SELECT conversation_id FROM messages WHERE user_id = ?1 AND deleted_at IS NULL)`
)

// CreateMessage stores a message from the actor. Messages sent at the
// same time share a transaction (group commit): one commit writes the WAL
// once for all of them.
func (db *DB) CreateMessage(ctx context.Context, m *workspace.Message) error {
	actor := workspace.ActorFromContext(ctx)
	m.UserID = actor.UserID
	if err := m.Validate(); err != nil {
		return err
	}
	ref, err := readable(actor.UserID, m.ConversationID)
	if err != nil {
		return err
	}
	return db.sends.Do(ctx, send{m, ref})
}

// send is a message to store, with its parsed conversation.
type send struct {
	m   *workspace.Message
	ref workspace.ConversationRef
}

// createMessages stores sends in one transaction. Should that fail, each
// is stored in a transaction of its own, so a message that cannot be
// stored (its DM partner was deleted, say) fails alone.
func (db *DB) createMessages(ctx context.Context, sends []send) []error {
	errs := make([]error, len(sends))
	if len(sends) > 1 && db.storeSends(ctx, sends) == nil {
		return errs
	}
	for i := range sends {
		errs[i] = db.storeSends(ctx, sends[i:i+1])
	}
	return errs
}

func (db *DB) storeSends(ctx context.Context, sends []send) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, s := range sends {
		if err := insertMessage(ctx, tx, s.m, s.ref); err != nil {
			return err
		}
	}
	return mapErr(tx.Commit())
}

func insertMessage(ctx context.Context, tx *Tx, m *workspace.Message, ref workspace.ConversationRef) error {
	if ref.Kind == workspace.KindDirect {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE id IN (?, ?)`, ref.A, ref.B).Scan(&n); err != nil {
			return mapErr(err)
		}
		if n != 2 {
			return errConversationNotFound
		}
	}
	m.IsRead = ref.Kind == workspace.KindChannel // see migration 00003
	m.CreatedAt, m.UpdatedAt, m.DeletedAt = tx.now, tx.now, nil
	err := tx.QueryRowContext(ctx, `INSERT INTO messages (user_id, conversation_id, text, is_read, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id, (SELECT username FROM users WHERE id = ?)`,
		m.UserID, m.ConversationID, m.Text, m.IsRead, fmtTime(tx.now), fmtTime(tx.now), m.UserID).Scan(&m.ID, &m.Username)
	if err != nil {
		return mapErr(err)
	}
	return registerConversation(ctx, tx, ref, m)
}

func findMessage(ctx context.Context, q querier, id int) (*workspace.Message, error) {
	m, err := scanMessage(q.QueryRowContext(ctx, `SELECT `+messageColumns+messageFrom+`WHERE m.id = ?`, id))
	if workspace.ErrorCode(err) == workspace.ENOTFOUND {
		return nil, errMessageNotFound
	}
	return m, err
}

var errMessageNotFound = workspace.Errorf(workspace.ENOTFOUND, "Message not found.")

// FindMessageByID returns a message readerID may read.
func (db *DB) FindMessageByID(ctx context.Context, readerID, id int) (*workspace.Message, error) {
	m, err := findMessage(ctx, db.read, id)
	if err != nil {
		return nil, err
	}
	if _, err := readable(readerID, m.ConversationID); err != nil {
		return nil, errMessageNotFound
	}
	return m, nil
}

// FindMessages returns a page of a conversation.
func (db *DB) FindMessages(ctx context.Context, readerID int, f workspace.MessageFilter) ([]*workspace.Message, bool, error) {
	if _, err := readable(readerID, f.ConversationID); err != nil {
		return nil, false, err
	}
	limit := workspace.PageLimit(f.Limit)
	var q string
	var args []any
	// The bounds are written CAST(? AS TEXT) and ? + 0, not ?, with the
	// same plan: once ANALYZE (or PRAGMA optimize) has stored sqlite_stat4
	// histograms, a bare parameter compared with an indexed column lets
	// the planner look at its value, and SQLite then re-prepares the
	// statement on every new binding (the page profile showed
	// sqlite3Reprepare at ~10%). An expression keeps the cached plan.
	switch {
	case f.After > 0:
		q, args = `WHERE m.conversation_id = CAST(? AS TEXT) AND m.id > ? + 0 ORDER BY m.id ASC LIMIT ?`, []any{f.ConversationID, f.After, limit + 1}
	case f.Before > 0:
		q, args = `WHERE m.conversation_id = CAST(? AS TEXT) AND m.id < ? + 0 ORDER BY m.id DESC LIMIT ?`, []any{f.ConversationID, f.Before, limit + 1}
	default:
		q, args = `WHERE m.conversation_id = CAST(? AS TEXT) ORDER BY m.id DESC LIMIT ?`, []any{f.ConversationID, limit + 1}
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+messageColumns+messageFrom+q, args...)
	out, err := scanMessages(rows, err, limit+1)
	if err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// loadForChange reads a message inside a write transaction and checks the
// actor may see it (ENOTFOUND otherwise).
func loadForChange(ctx context.Context, tx *Tx, id int) (*workspace.Message, workspace.Actor, error) {
	actor := workspace.ActorFromContext(ctx)
	m, err := findMessage(ctx, tx, id)
	if err != nil {
		return nil, actor, err
	}
	if _, err := readable(actor.UserID, m.ConversationID); err != nil {
		return nil, actor, errMessageNotFound
	}
	return m, actor, nil
}

// UpdateMessageText edits a message's text.
func (db *DB) UpdateMessageText(ctx context.Context, id int, text string) (*workspace.Message, error) {
	var v workspace.Validation
	workspace.ValidateText(&v, "text", text, workspace.MaxMessageLen, true)
	if err := v.Err(); err != nil {
		return nil, err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	m, actor, err := loadForChange(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if m.DeletedAt != nil {
		return nil, errMessageNotFound
	}
	if !workspace.CanEditMessage(actor, m) {
		return nil, workspace.Errorf(workspace.EFORBIDDEN, "Only the author can edit a message.")
	}
	m.Text, m.UpdatedAt = text, tx.now
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET text = ?, updated_at = ? WHERE id = ?`, text, fmtTime(tx.now), id); err != nil {
		return nil, mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.MessageAudit(workspace.ActionMessageUpdate, m)); err != nil {
		return nil, err
	}
	return m, mapErr(tx.Commit())
}

// DeleteMessage soft-deletes a message.
func (db *DB) DeleteMessage(ctx context.Context, id int) (*workspace.Message, error) {
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	m, actor, err := loadForChange(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if m.DeletedAt != nil {
		return nil, errMessageNotFound
	}
	if !workspace.CanDeleteMessage(actor, m) {
		return nil, workspace.Errorf(workspace.EFORBIDDEN, "Only the author or an admin can delete a message.")
	}
	m.DeletedAt, m.UpdatedAt = &tx.now, tx.now
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET deleted_at = ?, updated_at = ? WHERE id = ?`, fmtTime(tx.now), fmtTime(tx.now), id); err != nil {
		return nil, mapErr(err)
	}
	ref, err := workspace.ParseConversation(m.ConversationID)
	if err != nil {
		return nil, err
	}
	unreadA, unreadB := ref.UnreadDelta(m)
	if _, err := tx.ExecContext(ctx, `UPDATE conversations SET last_message_id = CASE WHEN last_message_id = ?2 THEN COALESCE(
		(SELECT max(m.id) FROM messages m WHERE m.conversation_id = ?1 AND m.deleted_at IS NULL), 0) ELSE last_message_id END,
		message_count = message_count - 1, unread_a = unread_a - ?3, unread_b = unread_b - ?4
		WHERE id = ?1`, m.ConversationID, id, unreadA, unreadB); err != nil {
		return nil, mapErr(err)
	}
	if ref.Kind == workspace.KindChannel {
		if _, err := tx.ExecContext(ctx, `UPDATE channel_reads SET read_count = read_count - (last_read_id >= ?2),
			own_after = own_after - (user_id = ?3 AND last_read_id < ?2)
			WHERE conversation_id = ?1 AND (last_read_id >= ?2 OR user_id = ?3)`, m.ConversationID, id, m.UserID); err != nil {
			return nil, mapErr(err)
		}
	}
	if err := insertActivity(ctx, tx, workspace.MessageAudit(workspace.ActionMessageDelete, m)); err != nil {
		return nil, err
	}
	return m, mapErr(tx.Commit())
}

// advanceCursor moves readerID's read cursor of a channel forward to id,
// with the counts behind it (migration 00010): what is read is every live
// message but those after id, and the reader's own after id are kept
// apart. It counts only the messages after id, few when a reader catches
// up. A cursor never moves back.
func advanceCursor(ctx context.Context, tx *Tx, readerID int, conversationID string, id int) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO channel_reads (user_id, conversation_id, last_read_id, updated_at, read_count, own_after)
		SELECT ?1, ?2, ?3, ?4, c.message_count - a.live, a.own
		FROM conversations c, (SELECT count(*) AS live, coalesce(sum(m.user_id = ?1), 0) AS own FROM messages m
		  WHERE m.conversation_id = ?2 AND m.id > ?3 AND m.deleted_at IS NULL) a
		WHERE c.id = ?2
		ON CONFLICT (user_id, conversation_id) DO UPDATE SET last_read_id = excluded.last_read_id, updated_at = excluded.updated_at,
		  read_count = excluded.read_count, own_after = excluded.own_after
		WHERE excluded.last_read_id > channel_reads.last_read_id`,
		readerID, conversationID, id, fmtTime(tx.now))
	return mapErr(err)
}

// MarkMessageRead marks one message read by readerID.
func (db *DB) MarkMessageRead(ctx context.Context, readerID, id int) (*workspace.Message, error) {
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	m, err := findMessage(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	ref, err := readable(readerID, m.ConversationID)
	if err != nil {
		return nil, errMessageNotFound
	}
	if ref.Kind == workspace.KindChannel {
		if err := advanceCursor(ctx, tx, readerID, ref.ID, id); err != nil {
			return nil, err
		}
	} else if m.UserID != readerID && !m.IsRead {
		m.IsRead = true
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET is_read = TRUE WHERE id = ?`, id); err != nil {
			return nil, mapErr(err)
		}
		if m.DeletedAt == nil { // a deleted message left the count when it was deleted
			if err := readDirect(ctx, tx, ref.ID, readerID, 1); err != nil {
				return nil, err
			}
		}
	}
	return m, mapErr(tx.Commit())
}

// readDirect takes n messages read by readerID off their side's unread
// counter of a direct conversation.
func readDirect(ctx context.Context, tx *Tx, conversationID string, readerID, n int) error {
	if n == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE conversations SET unread_a = unread_a - (user_a = ?2) * ?3, unread_b = unread_b - (user_b = ?2) * ?3
		WHERE id = ?1`, conversationID, readerID, n)
	return mapErr(err)
}

// readAllDirect zeroes readerID's unread counter of a direct conversation
// whose messages to them were all just marked read. Setting it, rather
// than taking off what was flipped, also mends a counter that drifted
// (writes by a binary from before migration 00010).
func readAllDirect(ctx context.Context, tx *Tx, conversationID string, readerID int) error {
	_, err := tx.ExecContext(ctx, `UPDATE conversations SET unread_a = CASE WHEN user_a = ?2 THEN 0 ELSE unread_a END,
		unread_b = CASE WHEN user_b = ?2 THEN 0 ELSE unread_b END WHERE id = ?1`, conversationID, readerID)
	return mapErr(err)
}

// MarkConversationRead marks a conversation read by readerID.
func (db *DB) MarkConversationRead(ctx context.Context, readerID int, conversationID string) error {
	ref, err := readable(readerID, conversationID)
	if err != nil {
		return err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if ref.Kind == workspace.KindDirect {
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET is_read = TRUE
			WHERE conversation_id = ? AND user_id <> ? AND NOT is_read`, ref.ID, readerID); err != nil {
			return mapErr(err)
		}
		if err := readAllDirect(ctx, tx, ref.ID, readerID); err != nil {
			return err
		}
		return mapErr(tx.Commit())
	}
	var last sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(id) FROM messages WHERE conversation_id = ?`, ref.ID).Scan(&last); err != nil {
		return mapErr(err)
	}
	if last.Valid {
		if err := advanceCursor(ctx, tx, readerID, ref.ID, int(last.Int64)); err != nil {
			return err
		}
	}
	return mapErr(tx.Commit())
}

// The parameters of the conversation queries are written ?1 + 0 and
// CAST(?3 AS TEXT), not bare: see FindMessages (no re-prepare per binding
// once ANALYZE has stored histograms; the list profile showed 19%).

// unreadCount is the unread count of conversation c for reader ?1, from
// the counters of migration 00010: their side's counter of a direct
// conversation; of a channel, the live messages less those up to the
// reader's cursor and the reader's own after it. One row lookup per
// conversation, however much is unread.
//
// It is never below 0: the counters are exact for everything written by
// this version, but a write by an instance still running a binary from
// before migration 00010 (a rolling upgrade) does not keep them, and a
// count must not turn negative in the API because of it.
const unreadCount = `max(0, CASE WHEN c.kind = 'direct' THEN
    CASE WHEN c.user_a = ?1 + 0 THEN c.unread_a ELSE c.unread_b END
  ELSE
    c.message_count - COALESCE((SELECT r.read_count + r.own_after FROM channel_reads r WHERE r.user_id = ?1 + 0 AND r.conversation_id = c.id), 0)
  END)`

// conversationColumns are what findConversations reads.
const conversationColumns = `c.id, c.kind, COALESCE(c.user_a, 0), COALESCE(c.user_b, 0), c.last_message_id, ` + unreadCount

// conversationPage is a page of reader ?1's conversations after the
// position (?2, ?3), ?4 rows: the channels and the direct conversations on
// either side are each an index range scan in activity order
// (idx_conversations_*_activity), merged.
const conversationPage = `WITH page AS (
  SELECT * FROM (SELECT id, kind, user_a, user_b, last_message_id, message_count, unread_a, unread_b FROM conversations
    WHERE kind = 'channel' AND (last_message_id, id) < (?2 + 0, CAST(?3 AS TEXT)) ORDER BY last_message_id DESC, id DESC LIMIT ?4)
  UNION ALL
  SELECT * FROM (SELECT id, kind, user_a, user_b, last_message_id, message_count, unread_a, unread_b FROM conversations
    WHERE user_a = ?1 + 0 AND (last_message_id, id) < (?2 + 0, CAST(?3 AS TEXT)) ORDER BY last_message_id DESC, id DESC LIMIT ?4)
  UNION ALL
  SELECT * FROM (SELECT id, kind, user_a, user_b, last_message_id, message_count, unread_a, unread_b FROM conversations
    WHERE user_b = ?1 + 0 AND (last_message_id, id) < (?2 + 0, CAST(?3 AS TEXT)) ORDER BY last_message_id DESC, id DESC LIMIT ?4)
  ORDER BY last_message_id DESC, id DESC LIMIT ?4)
SELECT ` + conversationColumns + ` FROM page c ORDER BY c.last_message_id DESC, c.id DESC`

// findConversations runs q, which selects conversationColumns, and
// attaches the last messages, read in one more query.
func (db *DB) findConversations(ctx context.Context, q string, args ...any) ([]*workspace.ConversationSummary, error) {
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	var out []*workspace.ConversationSummary
	var ids []int
	for rows.Next() {
		var c workspace.ConversationSummary
		var a, b int
		if err := rows.Scan(&c.ID, &c.Kind, &a, &b, &c.LastMessageID, &c.UnreadCount); err != nil {
			rows.Close()
			return nil, mapErr(err)
		}
		if c.Kind == workspace.KindDirect {
			c.UserIDs = []int{a, b}
		}
		if c.LastMessageID != 0 {
			ids = append(ids, c.LastMessageID)
		}
		out = append(out, &c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	if len(ids) == 0 {
		return out, nil
	}
	idsJSON, _ := json.Marshal(ids)
	rows, err = db.read.QueryContext(ctx, `SELECT `+messageColumns+messageFrom+
		`WHERE m.id IN (SELECT value FROM json_each(?))`, string(idsJSON))
	last, err := scanMessages(rows, err, len(ids))
	if err != nil {
		return nil, err
	}
	workspace.AttachLastMessages(out, last)
	return out, nil
}

// FindConversations returns a page of readerID's conversations, most
// recent first.
func (db *DB) FindConversations(ctx context.Context, readerID int, f workspace.ConversationFilter) ([]*workspace.ConversationSummary, string, error) {
	last, id, limit, err := workspace.ConversationPageBounds(f)
	if err != nil {
		return nil, "", err
	}
	out, err := db.findConversations(ctx, conversationPage, readerID, last, id, limit+1)
	if err != nil {
		return nil, "", err
	}
	out, next := workspace.PaginateConversations(out, limit)
	return out, next, nil
}

// FindConversation returns one of readerID's conversations.
func (db *DB) FindConversation(ctx context.Context, readerID int, id string) (*workspace.ConversationSummary, error) {
	if _, err := readable(readerID, id); err != nil {
		return nil, err
	}
	out, err := db.findConversations(ctx, `SELECT `+conversationColumns+` FROM conversations c WHERE c.id = ?2`, readerID, id)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errConversationNotFound
	}
	return out[0], nil
}

// OpenDirectConversation records and returns the actor's conversation with otherID.
func (db *DB) OpenDirectConversation(ctx context.Context, otherID int) (*workspace.ConversationSummary, error) {
	actor := workspace.ActorFromContext(ctx)
	if otherID == actor.UserID {
		return nil, workspace.Invalid("user_id", "is yourself")
	}
	ref, err := workspace.ParseConversation(workspace.DirectConversation(actor.UserID, otherID))
	if err != nil {
		return nil, err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := findUserByID(ctx, tx, otherID); err != nil {
		return nil, err
	}
	if err := registerConversation(ctx, tx, ref, nil); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, mapErr(err)
	}
	return db.FindConversation(ctx, actor.UserID, ref.ID)
}

// CountUnread returns readerID's unread counts.
func (db *DB) CountUnread(ctx context.Context, readerID int) (*workspace.UnreadCounts, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT c.id, `+unreadCount+` FROM conversations c
		WHERE c.kind = 'channel' OR c.user_a = ?1 OR c.user_b = ?1`, readerID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	u := &workspace.UnreadCounts{Conversations: map[string]int{}}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, mapErr(err)
		}
		if n > 0 {
			u.Conversations[id] = n
			u.Total += n
		}
	}
	return u, mapErr(rows.Err())
}

// FindRecentMessages reads the recent_messages view for readerID.
func (db *DB) FindRecentMessages(ctx context.Context, readerID int, cursor string, limit int) ([]*workspace.Message, string, error) {
	before, err := workspace.DecodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	limit = workspace.PageLimit(limit)
	q := `SELECT ` + messageColumns + ` FROM recent_messages m JOIN users u ON u.id = m.user_id
		WHERE m.deleted_at IS NULL AND m.conversation_id IN
		  (SELECT id FROM conversations WHERE kind = 'channel' OR user_a = ? OR user_b = ?)`
	args := []any{readerID, readerID}
	if before > 0 {
		q, args = q+` AND m.id < ?`, append(args, before)
	}
	rows, err := db.read.QueryContext(ctx, q+` ORDER BY m.id DESC LIMIT ?`, append(args, limit+1)...)
	out, err := scanMessages(rows, err, limit+1)
	if err != nil {
		return nil, "", err
	}
	out, next := workspace.Paginate(out, limit, func(m *workspace.Message) int64 { return int64(m.ID) })
	return out, next, nil
}
