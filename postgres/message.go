package postgres

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"workspace"
)

const messageColumns = `m.id, m.user_id, u.username, COALESCE(m.conversation_id, ''), m.text, m.is_read, m.created_at, m.updated_at, m.deleted_at`

const messageFrom = ` FROM messages m JOIN users u ON u.id = m.user_id `

func scanMessage(row pgx.Row) (*workspace.Message, error) {
	var m workspace.Message
	if err := row.Scan(&m.ID, &m.UserID, &m.Username, &m.ConversationID, &m.Text, &m.IsRead,
		&m.CreatedAt, &m.UpdatedAt, &m.DeletedAt); err != nil {
		return nil, mapErr(err)
	}
	return &m, nil
}

func scanMessages(rows pgx.Rows, err error) ([]*workspace.Message, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*workspace.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, mapErr(rows.Err())
}

// messageOrderLock serialises message inserts (see CreateMessage).
const messageOrderLock = 0x77730002

var errConversationNotFound = workspace.Errorf(workspace.ENOTFOUND, "Conversation not found.")

var errMessageNotFound = workspace.Errorf(workspace.ENOTFOUND, "Message not found.")

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

// registerConversation records a conversation once.
func registerConversation(ctx context.Context, tx *Tx, ref workspace.ConversationRef) error {
	var a, b *int
	if ref.Kind == workspace.KindDirect {
		a, b = &ref.A, &ref.B
	}
	_, err := tx.Exec(ctx, `INSERT INTO conversations (id, kind, user_a, user_b, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`, ref.ID, ref.Kind, a, b, tx.now)
	return mapErr(err)
}

// CreateMessage stores a message from the actor.
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
	if ref.Kind == workspace.KindChannel {
		return db.createChannelMessage(ctx, m)
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	if ref.Kind == workspace.KindDirect {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE id IN ($1, $2)`, ref.A, ref.B).Scan(&n); err != nil {
			return mapErr(err)
		}
		if n != 2 {
			return errConversationNotFound
		}
	}
	if err := registerConversation(ctx, tx, ref); err != nil {
		return err
	}
	// Message ids must become visible in id order: live delivery tails the
	// table by id and a reconnecting client resumes from the last id it saw,
	// so an id committed after a higher one would be skipped. Taking the
	// id under a transaction lock makes commit order equal id order (SQLite
	// gets this from its single writer).
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, messageOrderLock); err != nil {
		return mapErr(err)
	}
	m.IsRead = ref.Kind == workspace.KindChannel // see migration 00003
	m.CreatedAt, m.UpdatedAt, m.DeletedAt = tx.now, tx.now, nil
	err = tx.QueryRow(ctx, `INSERT INTO messages (user_id, conversation_id, text, is_read, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) RETURNING id, (SELECT username FROM users WHERE id = $1)`,
		m.UserID, m.ConversationID, m.Text, m.IsRead, tx.now).Scan(&m.ID, &m.Username)
	if err != nil {
		return mapErr(err)
	}
	return mapErr(tx.Commit(ctx))
}

// createChannelMessage is CreateMessage for a channel, the hot path of a
// team chat, in one round trip: a pgx batch runs in one implicit
// transaction, so the order lock, the conversation registration and the
// insert commit together, as in the explicit transaction of a direct
// message (which first checks that both users exist).
func (db *DB) createChannelMessage(ctx context.Context, m *workspace.Message) error {
	now := workspace.Truncate(db.Now())
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, messageOrderLock)
	b.Queue(`INSERT INTO conversations (id, kind, created_at) VALUES ($1, 'channel', $2) ON CONFLICT (id) DO NOTHING`,
		m.ConversationID, now)
	b.Queue(`INSERT INTO messages (user_id, conversation_id, text, is_read, created_at, updated_at)
		VALUES ($1, $2, $3, TRUE, $4, $4) RETURNING id, (SELECT username FROM users WHERE id = $1)`,
		m.UserID, m.ConversationID, m.Text, now)
	br := db.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return mapErr(err)
	}
	if _, err := br.Exec(); err != nil {
		return mapErr(err)
	}
	var username *string
	if err := br.QueryRow().Scan(&m.ID, &username); err != nil {
		return mapErr(err)
	}
	if err := br.Close(); err != nil { // the implicit transaction's commit
		return mapErr(err)
	}
	if username != nil {
		m.Username = *username
	}
	m.IsRead, m.CreatedAt, m.UpdatedAt, m.DeletedAt = true, now, now, nil // see migration 00003
	return nil
}

func findMessage(ctx context.Context, q querier, id int) (*workspace.Message, error) {
	m, err := scanMessage(q.QueryRow(ctx, `SELECT `+messageColumns+messageFrom+`WHERE m.id = $1`, id))
	if workspace.ErrorCode(err) == workspace.ENOTFOUND {
		return nil, errMessageNotFound
	}
	return m, err
}

// FindMessageByID returns a message readerID may read.
func (db *DB) FindMessageByID(ctx context.Context, readerID, id int) (*workspace.Message, error) {
	m, err := findMessage(ctx, db.pool, id)
	if err != nil {
		return nil, err
	}
	if _, err := readable(readerID, m.ConversationID); err != nil {
		return nil, errMessageNotFound
	}
	return m, nil
}

// FindMessages returns a page of a conversation. Each direction is its own
// statement, so every plan is one range scan of (conversation_id, id).
func (db *DB) FindMessages(ctx context.Context, readerID int, f workspace.MessageFilter) ([]*workspace.Message, bool, error) {
	if _, err := readable(readerID, f.ConversationID); err != nil {
		return nil, false, err
	}
	limit := workspace.PageLimit(f.Limit)
	var q string
	var args []any
	switch {
	case f.After > 0:
		q, args = `WHERE m.conversation_id = $1 AND m.id > $2 ORDER BY m.id ASC LIMIT $3`, []any{f.ConversationID, f.After, limit + 1}
	case f.Before > 0:
		q, args = `WHERE m.conversation_id = $1 AND m.id < $2 ORDER BY m.id DESC LIMIT $3`, []any{f.ConversationID, f.Before, limit + 1}
	default:
		q, args = `WHERE m.conversation_id = $1 ORDER BY m.id DESC LIMIT $2`, []any{f.ConversationID, limit + 1}
	}
	out, err := scanMessages(db.pool.Query(ctx, `SELECT `+messageColumns+messageFrom+q, args...))
	if err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// loadForChange locks and reads a message and checks the actor may see it.
func loadForChange(ctx context.Context, tx *Tx, id int) (*workspace.Message, workspace.Actor, error) {
	actor := workspace.ActorFromContext(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM messages WHERE id = $1 FOR UPDATE`, id); err != nil {
		return nil, actor, mapErr(err)
	}
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
	defer tx.rollback()
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
	if _, err := tx.Exec(ctx, `UPDATE messages SET text = $1, updated_at = $2 WHERE id = $3`, text, tx.now, id); err != nil {
		return nil, mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.MessageAudit(workspace.ActionMessageUpdate, m)); err != nil {
		return nil, err
	}
	return m, mapErr(tx.Commit(ctx))
}

// DeleteMessage soft-deletes a message.
func (db *DB) DeleteMessage(ctx context.Context, id int) (*workspace.Message, error) {
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.rollback()
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
	if _, err := tx.Exec(ctx, `UPDATE messages SET deleted_at = $1, updated_at = $1 WHERE id = $2`, tx.now, id); err != nil {
		return nil, mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.MessageAudit(workspace.ActionMessageDelete, m)); err != nil {
		return nil, err
	}
	return m, mapErr(tx.Commit(ctx))
}

// advanceCursor moves readerID's read cursor of a channel forward to id.
func advanceCursor(ctx context.Context, tx *Tx, readerID int, conversationID string, id int) error {
	_, err := tx.Exec(ctx, `INSERT INTO channel_reads (user_id, conversation_id, last_read_id, updated_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, conversation_id)
		DO UPDATE SET last_read_id = GREATEST(channel_reads.last_read_id, excluded.last_read_id), updated_at = excluded.updated_at`,
		readerID, conversationID, id, tx.now)
	return mapErr(err)
}

// MarkMessageRead marks one message read by readerID.
func (db *DB) MarkMessageRead(ctx context.Context, readerID, id int) (*workspace.Message, error) {
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.rollback()
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
		if _, err := tx.Exec(ctx, `UPDATE messages SET is_read = TRUE WHERE id = $1`, id); err != nil {
			return nil, mapErr(err)
		}
	}
	return m, mapErr(tx.Commit(ctx))
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
	defer tx.rollback()
	if ref.Kind == workspace.KindDirect {
		if _, err := tx.Exec(ctx, `UPDATE messages SET is_read = TRUE
			WHERE conversation_id = $1 AND user_id <> $2 AND NOT is_read`, ref.ID, readerID); err != nil {
			return mapErr(err)
		}
		return mapErr(tx.Commit(ctx))
	}
	var last *int
	if err := tx.QueryRow(ctx, `SELECT max(id) FROM messages WHERE conversation_id = $1`, ref.ID).Scan(&last); err != nil {
		return mapErr(err)
	}
	if last != nil {
		if err := advanceCursor(ctx, tx, readerID, ref.ID, *last); err != nil {
			return err
		}
	}
	return mapErr(tx.Commit(ctx))
}

// conversationsQuery: see the SQLite store.
const conversationsQuery = `
SELECT c.id, c.kind, COALESCE(c.user_a, 0), COALESCE(c.user_b, 0),
  (SELECT max(m.id) FROM messages m WHERE m.conversation_id = c.id AND m.deleted_at IS NULL),
  CASE WHEN c.kind = 'direct' THEN
    (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND NOT m.is_read AND m.user_id <> $1 AND m.deleted_at IS NULL)
  ELSE
    (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.user_id <> $1 AND m.deleted_at IS NULL
       AND m.id > COALESCE((SELECT r.last_read_id FROM channel_reads r WHERE r.user_id = $1 AND r.conversation_id = c.id), 0))
  END
FROM conversations c
WHERE c.kind = 'channel' OR c.user_a = $1 OR c.user_b = $1`

// FindConversations lists readerID's conversations, most recent first.
func (db *DB) FindConversations(ctx context.Context, readerID int) ([]*workspace.ConversationSummary, error) {
	rows, err := db.pool.Query(ctx, conversationsQuery, readerID)
	if err != nil {
		return nil, mapErr(err)
	}
	var out []*workspace.ConversationSummary
	var lastIDs []*int
	for rows.Next() {
		var c workspace.ConversationSummary
		var a, b int
		var last *int
		if err := rows.Scan(&c.ID, &c.Kind, &a, &b, &last, &c.UnreadCount); err != nil {
			rows.Close()
			return nil, mapErr(err)
		}
		if c.Kind == workspace.KindDirect {
			c.UserIDs = []int{a, b}
		}
		out, lastIDs = append(out, &c), append(lastIDs, last)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	// The last messages in one query, not one per conversation.
	ids := []int32{}
	for _, id := range lastIDs {
		if id != nil {
			ids = append(ids, int32(*id))
		}
	}
	last, err := scanMessages(db.pool.Query(ctx, `SELECT `+messageColumns+messageFrom+`WHERE m.id = ANY($1)`, ids))
	if err != nil {
		return nil, err
	}
	workspace.AttachLastMessages(out, last)
	workspace.SortConversations(out)
	return out, nil
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
	defer tx.rollback()
	if _, err := findUserByID(ctx, tx, otherID); err != nil {
		return nil, err
	}
	if err := registerConversation(ctx, tx, ref); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, mapErr(err)
	}
	return workspace.FindConversation(ctx, db, actor.UserID, ref.ID)
}

// CountUnread returns readerID's unread counts.
func (db *DB) CountUnread(ctx context.Context, readerID int) (*workspace.UnreadCounts, error) {
	list, err := db.FindConversations(ctx, readerID)
	if err != nil {
		return nil, err
	}
	return workspace.SumUnread(list), nil
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
		  (SELECT id FROM conversations WHERE kind = 'channel' OR user_a = $1 OR user_b = $1)`
	args := []any{readerID}
	if before > 0 {
		q, args = q+` AND m.id < $2`, append(args, before)
	}
	args = append(args, limit+1)
	out, err := scanMessages(db.pool.Query(ctx, q+` ORDER BY m.id DESC LIMIT $`+strconv.Itoa(len(args)), args...))
	if err != nil {
		return nil, "", err
	}
	out, next := workspace.Paginate(out, limit, func(m *workspace.Message) int64 { return int64(m.ID) })
	return out, next, nil
}
