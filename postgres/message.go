package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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

// registerConversation records a conversation once, and lastMessageID (a
// message just sent; 0: none) as its last message.
func registerConversation(ctx context.Context, tx *Tx, ref workspace.ConversationRef, lastMessageID int) error {
	var a, b *int
	if ref.Kind == workspace.KindDirect {
		a, b = &ref.A, &ref.B
	}
	_, err := tx.Exec(ctx, `INSERT INTO conversations (id, kind, user_a, user_b, created_at, last_message_id)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id)
		DO UPDATE SET last_message_id = GREATEST(conversations.last_message_id, EXCLUDED.last_message_id)`,
		ref.ID, ref.Kind, a, b, tx.now, lastMessageID)
	return mapErr(err)
}

// refreshLastMessages recomputes the last live message of conversations
// whose last message is gone (its author was deleted).
const refreshLastMessages = `UPDATE conversations c SET last_message_id = COALESCE(
	(SELECT max(m.id) FROM messages m WHERE m.conversation_id = c.id AND m.deleted_at IS NULL), 0)
	WHERE c.last_message_id <> 0 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = c.last_message_id)`

// CreateMessage stores a message from the actor. Messages sent at the
// same time share a transaction (group commit): one commit, one WAL flush
// for all of them, and one turn of the message order lock.
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

// createMessages stores sends in one transaction. Should the database
// refuse it (the transaction rolled back), each is stored in a transaction
// of its own, so a message that cannot be stored fails alone. Any other
// failure (the connection broke, perhaps after the commit) is every
// message's: retrying could store them twice.
func (db *DB) createMessages(ctx context.Context, sends []send) []error {
	errs := make([]error, len(sends))
	err := db.storeSends(ctx, sends, errs)
	if err == nil {
		return errs
	}
	var pgErr *pgconn.PgError
	if len(sends) == 1 || !(errors.As(err, &pgErr) || pgconn.SafeToRetry(err)) {
		for i := range errs {
			errs[i] = mapErr(err)
		}
		return errs
	}
	for i := range sends {
		errs[i] = nil
		if err := db.storeSends(ctx, sends[i:i+1], errs[i:i+1]); err != nil {
			errs[i] = mapErr(err)
		}
	}
	return errs
}

// insertMessage stores a message and registers its conversation with it
// as the last message, in one statement. A direct message is stored only
// if both users exist (no row otherwise).
const insertMessage = `WITH m AS (
	  INSERT INTO messages (user_id, conversation_id, text, is_read, created_at, updated_at)
	  SELECT $1, $2, $3, $4, $5, $5
	  WHERE $7::int IS NULL OR (SELECT count(*) FROM users WHERE id IN ($7, $8)) = 2
	  RETURNING id),
	c AS (
	  INSERT INTO conversations (id, kind, user_a, user_b, created_at, last_message_id) SELECT $2, $6, $7, $8, $5, id FROM m
	  ON CONFLICT (id) DO UPDATE SET last_message_id = GREATEST(conversations.last_message_id, EXCLUDED.last_message_id))
	SELECT id, (SELECT username FROM users WHERE id = $1) FROM m`

// storeSends stores sends in one round trip: a pgx batch runs in one
// implicit transaction, so the order lock, the inserts and the
// notification commit together. Message ids must become visible in id
// order: live delivery tails the table by id and a reconnecting client
// resumes from the last id it saw, so an id committed after a higher one
// would be skipped. Taking the ids under a transaction lock makes commit
// order equal id order (SQLite gets this from its single writer). A direct
// message whose other user is gone gets its error in errs; an error of the
// transaction is returned as pgx gives it.
func (db *DB) storeSends(ctx context.Context, sends []send, errs []error) error {
	now := workspace.Truncate(db.Now())
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, messageOrderLock)
	for _, s := range sends {
		var a, bb *int
		if s.ref.Kind == workspace.KindDirect {
			a, bb = &s.ref.A, &s.ref.B
		}
		isRead := s.ref.Kind == workspace.KindChannel // see migration 00003
		b.Queue(insertMessage, s.m.UserID, s.m.ConversationID, s.m.Text, isRead, now, s.ref.Kind, a, bb)
	}
	notify := db.messageChannel.Load()
	if notify != nil {
		b.Queue(`SELECT pg_notify($1, $2)`, *notify, messageCreated)
	}
	br := db.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return err
	}
	for i, s := range sends {
		var username *string
		switch err := br.QueryRow().Scan(&s.m.ID, &username); {
		case errors.Is(err, pgx.ErrNoRows):
			errs[i] = errConversationNotFound
			continue
		case err != nil:
			return err
		}
		if username != nil {
			s.m.Username = *username
		}
		s.m.IsRead, s.m.CreatedAt, s.m.UpdatedAt, s.m.DeletedAt = s.ref.Kind == workspace.KindChannel, now, now, nil
	}
	if notify != nil {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	return br.Close() // the implicit transaction's commit
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
	// The order lock: no send or other delete is in flight while the
	// conversation's last message is recomputed, and the statements after
	// it see every committed message.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, messageOrderLock); err != nil {
		return nil, mapErr(err)
	}
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
	if _, err := tx.Exec(ctx, `UPDATE conversations SET last_message_id = COALESCE(
		(SELECT max(m.id) FROM messages m WHERE m.conversation_id = $1 AND m.deleted_at IS NULL), 0)
		WHERE id = $1 AND last_message_id = $2`, m.ConversationID, id); err != nil {
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

// unreadCount: see the SQLite store.
const unreadCount = `CASE WHEN c.kind = 'direct' THEN
    (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND NOT m.is_read AND m.user_id <> $1 AND m.deleted_at IS NULL)
  ELSE
    (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.user_id <> $1 AND m.deleted_at IS NULL
       AND m.id > COALESCE((SELECT r.last_read_id FROM channel_reads r WHERE r.user_id = $1 AND r.conversation_id = c.id), 0))
  END`

// conversationColumns are what findConversations reads.
const conversationColumns = `c.id, c.kind, COALESCE(c.user_a, 0), COALESCE(c.user_b, 0), c.last_message_id, ` + unreadCount

// conversationPage: see the SQLite store. Ties (conversations without
// messages) are broken by id in byte order, COLLATE "C" as in the indexes,
// so both engines list alike.
const conversationPage = `WITH page AS (SELECT * FROM (
  (SELECT id, kind, user_a, user_b, last_message_id FROM conversations
    WHERE kind = 'channel' AND (last_message_id, id COLLATE "C") < ($2::bigint, $3::text COLLATE "C")
    ORDER BY last_message_id DESC, id COLLATE "C" DESC LIMIT $4)
  UNION ALL
  (SELECT id, kind, user_a, user_b, last_message_id FROM conversations
    WHERE user_a = $1 AND (last_message_id, id COLLATE "C") < ($2::bigint, $3::text COLLATE "C")
    ORDER BY last_message_id DESC, id COLLATE "C" DESC LIMIT $4)
  UNION ALL
  (SELECT id, kind, user_a, user_b, last_message_id FROM conversations
    WHERE user_b = $1 AND (last_message_id, id COLLATE "C") < ($2::bigint, $3::text COLLATE "C")
    ORDER BY last_message_id DESC, id COLLATE "C" DESC LIMIT $4)
  ) u ORDER BY last_message_id DESC, id COLLATE "C" DESC LIMIT $4)
SELECT ` + conversationColumns + ` FROM page c ORDER BY c.last_message_id DESC, c.id COLLATE "C" DESC`

// findConversations runs q, which selects conversationColumns, and
// attaches the last messages, read in one more query.
func (db *DB) findConversations(ctx context.Context, q string, args ...any) ([]*workspace.ConversationSummary, error) {
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	var out []*workspace.ConversationSummary
	ids := []int32{}
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
			ids = append(ids, int32(c.LastMessageID))
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
	last, err := scanMessages(db.pool.Query(ctx, `SELECT `+messageColumns+messageFrom+`WHERE m.id = ANY($1)`, ids))
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
	out, err := db.findConversations(ctx, `SELECT `+conversationColumns+` FROM conversations c WHERE c.id = $2`, readerID, id)
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
	defer tx.rollback()
	if _, err := findUserByID(ctx, tx, otherID); err != nil {
		return nil, err
	}
	if err := registerConversation(ctx, tx, ref, 0); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, mapErr(err)
	}
	return db.FindConversation(ctx, actor.UserID, ref.ID)
}

// CountUnread returns readerID's unread counts.
func (db *DB) CountUnread(ctx context.Context, readerID int) (*workspace.UnreadCounts, error) {
	rows, err := db.pool.Query(ctx, `SELECT c.id, `+unreadCount+` FROM conversations c
		WHERE c.kind = 'channel' OR c.user_a = $1 OR c.user_b = $1`, readerID)
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
