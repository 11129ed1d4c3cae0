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
	if err := row.Scan(messageDest(&m)...); err != nil {
		return nil, mapErr(err)
	}
	return &m, nil
}

// messageDest is the scan destination of a messageColumns row into m.
func messageDest(m *workspace.Message) []any {
	return []any{&m.ID, &m.UserID, &m.Username, &m.ConversationID, &m.Text, &m.IsRead,
		&m.CreatedAt, &m.UpdatedAt, &m.DeletedAt}
}

// scanMessages reads the rows of a messageColumns SELECT expected to hold
// up to capacity rows (workspace.ReadMessages).
func scanMessages(rows pgx.Rows, err error, capacity int) ([]*workspace.Message, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	list, err := workspace.ReadMessages(rows, messageDest, capacity)
	return list, mapErr(err)
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

// registerConversation records a conversation once (sends register
// theirs in insertMessage).
func registerConversation(ctx context.Context, tx *Tx, ref workspace.ConversationRef) error {
	var a, b *int
	if ref.Kind == workspace.KindDirect {
		a, b = &ref.A, &ref.B
	}
	_, err := tx.Exec(ctx, `INSERT INTO conversations (id, kind, user_a, user_b, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO NOTHING`, ref.ID, ref.Kind, a, b, tx.now)
	return mapErr(err)
}

// forgetAuthorCounts and forgetAuthorReads: see the SQLite store. They run
// under the message order lock, so no send or delete changes the counts
// between them.
const (
	forgetAuthorCounts = `UPDATE conversations c SET message_count = message_count -
		(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.user_id = $1 AND m.deleted_at IS NULL)
		WHERE kind = 'channel' AND id IN (SELECT conversation_id FROM messages WHERE user_id = $1 AND deleted_at IS NULL)`
	forgetAuthorReads = `UPDATE channel_reads r SET read_count = read_count -
		(SELECT count(*) FROM messages m WHERE m.conversation_id = r.conversation_id AND m.user_id = $1
		   AND m.deleted_at IS NULL AND m.id <= r.last_read_id)
		WHERE user_id <> $1 AND conversation_id IN (SELECT conversation_id FROM messages WHERE user_id = $1 AND deleted_at IS NULL)`
)

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
// as the last message, counted (migration 00010: $9 and $10 are the
// message's unread deltas, a channel sender's own_after counts it), in
// one statement. A direct message is stored only if both users exist (no
// row otherwise).
const insertMessage = `WITH m AS (
	  INSERT INTO messages (user_id, conversation_id, text, is_read, created_at, updated_at)
	  SELECT $1, $2, $3, $4, $5, $5
	  WHERE $7::int IS NULL OR (SELECT count(*) FROM users WHERE id IN ($7, $8)) = 2
	  RETURNING id),
	c AS (
	  INSERT INTO conversations (id, kind, user_a, user_b, created_at, last_message_id, message_count, unread_a, unread_b)
	  SELECT $2, $6, $7, $8, $5, id, 1, $9, $10 FROM m
	  ON CONFLICT (id) DO UPDATE SET last_message_id = GREATEST(conversations.last_message_id, EXCLUDED.last_message_id),
	    message_count = conversations.message_count + 1,
	    unread_a = conversations.unread_a + EXCLUDED.unread_a, unread_b = conversations.unread_b + EXCLUDED.unread_b
	  RETURNING id),
	r AS (
	  INSERT INTO channel_reads (user_id, conversation_id, last_read_id, updated_at, read_count, own_after)
	  SELECT $1, id, 0, $5, 0, 1 FROM c WHERE $6 = 'channel'
	  ON CONFLICT (user_id, conversation_id) DO UPDATE SET own_after = channel_reads.own_after + 1)
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
		s.m.IsRead = s.ref.Kind == workspace.KindChannel // see migration 00003
		unreadA, unreadB := s.ref.UnreadDelta(s.m)
		b.Queue(insertMessage, s.m.UserID, s.m.ConversationID, s.m.Text, s.m.IsRead, now, s.ref.Kind, a, bb, unreadA, unreadB)
	}
	notify := db.messageChannel.Load()
	if notify != nil {
		b.Queue(`SELECT pg_notify($1, $2)`, *notify, workspace.MessageCreatedNotification)
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
		s.m.CreatedAt, s.m.UpdatedAt, s.m.DeletedAt = now, now, nil
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

// pageLimit is the LIMIT of a page as a literal, n being a count the store
// bounded (workspace.PageLimit + 1), never client text.
//
// As a parameter, the LIMIT is unknown to the generic plan of the prepared
// statement, which PostgreSQL then costs as if it returned 10 % of the
// conversation. Past ~500 messages in a conversation that costs more than
// a custom plan, so every page read was planned again: on the benchmark's
// 1,000,000 messages, pg_prepared_statements showed 0 generic plans after
// 8 executions, with 0.09 ms of planning per 0.10 ms of execution; with
// 10,000 messages the generic plan won and planning took 0.003 ms. With a
// literal the generic plan is chosen after five executions at any size.
//
// Each literal is its own cached statement, so n is rounded up to one of
// a few sizes (the caller keeps the rows it asked for): a client cycling
// through every page size cannot churn the connections' statement caches.
func pageLimit(n int) string {
	for _, size := range []int{11, 26, 51, 101} {
		if n <= size {
			return ` LIMIT ` + strconv.Itoa(size)
		}
	}
	return ` LIMIT ` + strconv.Itoa(max(n, workspace.MaxPageSize+1))
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
		q, args = `WHERE m.conversation_id = $1 AND m.id > $2 ORDER BY m.id ASC`, []any{f.ConversationID, f.After}
	case f.Before > 0:
		q, args = `WHERE m.conversation_id = $1 AND m.id < $2 ORDER BY m.id DESC`, []any{f.ConversationID, f.Before}
	default:
		q, args = `WHERE m.conversation_id = $1 ORDER BY m.id DESC`, []any{f.ConversationID}
	}
	rows, err := db.pool.Query(ctx, `SELECT `+messageColumns+messageFrom+q+pageLimit(limit+1), args...)
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
	ref, err := workspace.ParseConversation(m.ConversationID)
	if err != nil {
		return nil, err
	}
	// m was read under its row lock (loadForChange), so is_read is the
	// one a concurrent read will see: the unread counter drops once.
	unreadA, unreadB := ref.UnreadDelta(m)
	if _, err := tx.Exec(ctx, `UPDATE conversations SET last_message_id = CASE WHEN last_message_id = $2 THEN COALESCE(
		(SELECT max(m.id) FROM messages m WHERE m.conversation_id = $1 AND m.deleted_at IS NULL), 0) ELSE last_message_id END,
		message_count = message_count - 1, unread_a = unread_a - $3, unread_b = unread_b - $4
		WHERE id = $1`, m.ConversationID, id, unreadA, unreadB); err != nil {
		return nil, mapErr(err)
	}
	if ref.Kind == workspace.KindChannel {
		if _, err := tx.Exec(ctx, `UPDATE channel_reads SET read_count = read_count - (last_read_id >= $2)::int,
			own_after = own_after - (user_id = $3 AND last_read_id < $2)::int
			WHERE conversation_id = $1 AND (last_read_id >= $2 OR user_id = $3)`, m.ConversationID, id, m.UserID); err != nil {
			return nil, mapErr(err)
		}
	}
	if err := insertActivity(ctx, tx, workspace.MessageAudit(workspace.ActionMessageDelete, m)); err != nil {
		return nil, err
	}
	return m, mapErr(tx.Commit(ctx))
}

// lockCounts locks a conversation's row before its read counts are
// computed: sends and deletes update that row before they touch cursor
// rows, so none is half done while the counts are taken, and every
// statement after the lock sees all that committed before it. Readers of
// a channel share the lock; a direct conversation's reader updates the
// row afterwards, so takes it for update at once (two readers upgrading
// shared locks would deadlock).
func lockCounts(ctx context.Context, tx *Tx, ref workspace.ConversationRef) error {
	q := `SELECT 1 FROM conversations WHERE id = $1 FOR SHARE`
	if ref.Kind == workspace.KindDirect {
		q = `SELECT 1 FROM conversations WHERE id = $1 FOR NO KEY UPDATE`
	}
	_, err := tx.Exec(ctx, q, ref.ID)
	return mapErr(err)
}

// advanceCursor: see the SQLite store. The caller holds lockCounts.
func advanceCursor(ctx context.Context, tx *Tx, readerID int, conversationID string, id int) error {
	_, err := tx.Exec(ctx, `INSERT INTO channel_reads (user_id, conversation_id, last_read_id, updated_at, read_count, own_after)
		SELECT $1, $2, $3, $4, c.message_count - a.live, a.own
		FROM conversations c, (SELECT count(*) AS live, count(*) FILTER (WHERE m.user_id = $1) AS own FROM messages m
		  WHERE m.conversation_id = $2 AND m.id > $3 AND m.deleted_at IS NULL) a
		WHERE c.id = $2
		ON CONFLICT (user_id, conversation_id) DO UPDATE SET last_read_id = excluded.last_read_id, updated_at = excluded.updated_at,
		  read_count = excluded.read_count, own_after = excluded.own_after
		WHERE excluded.last_read_id > channel_reads.last_read_id`,
		readerID, conversationID, id, tx.now)
	return mapErr(err)
}

// readAllDirect: see the SQLite store.
func readAllDirect(ctx context.Context, tx *Tx, conversationID string, readerID int) error {
	_, err := tx.Exec(ctx, `UPDATE conversations SET unread_a = CASE WHEN user_a = $2 THEN 0 ELSE unread_a END,
		unread_b = CASE WHEN user_b = $2 THEN 0 ELSE unread_b END WHERE id = $1`, conversationID, readerID)
	return mapErr(err)
}

// readDirect: see the SQLite store.
func readDirect(ctx context.Context, tx *Tx, conversationID string, readerID, n int) error {
	if n == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE conversations SET unread_a = unread_a - (user_a = $2)::int * $3, unread_b = unread_b - (user_b = $2)::int * $3
		WHERE id = $1`, conversationID, readerID, n)
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
		if err := lockCounts(ctx, tx, ref); err != nil {
			return nil, err
		}
		if err := advanceCursor(ctx, tx, readerID, ref.ID, id); err != nil {
			return nil, err
		}
	} else if m.UserID != readerID && !m.IsRead {
		// Only the reader who flips the flag takes the message off the
		// counter, and only while it is live (a delete takes it off itself).
		var live bool
		switch err := tx.QueryRow(ctx, `UPDATE messages SET is_read = TRUE WHERE id = $1 AND NOT is_read RETURNING deleted_at IS NULL`, id).Scan(&live); {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, mapErr(err)
		case live:
			if err := readDirect(ctx, tx, ref.ID, readerID, 1); err != nil {
				return nil, err
			}
		}
		m.IsRead = true
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
	// The conversation row is locked first, for both kinds: a send that
	// already counted its message commits before the reads below, one
	// that has not waits until after them.
	if err := lockCounts(ctx, tx, ref); err != nil {
		return err
	}
	if ref.Kind == workspace.KindDirect {
		if _, err := tx.Exec(ctx, `UPDATE messages SET is_read = TRUE
			WHERE conversation_id = $1 AND user_id <> $2 AND NOT is_read`, ref.ID, readerID); err != nil {
			return mapErr(err)
		}
		if err := readAllDirect(ctx, tx, ref.ID, readerID); err != nil {
			return err
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
const unreadCount = `GREATEST(0, CASE WHEN c.kind = 'direct' THEN
    CASE WHEN c.user_a = $1 THEN c.unread_a ELSE c.unread_b END
  ELSE
    c.message_count - COALESCE((SELECT r.read_count + r.own_after FROM channel_reads r WHERE r.user_id = $1 AND r.conversation_id = c.id), 0)
  END)`

// conversationColumns are what findConversations reads.
const conversationColumns = `c.id, c.kind, COALESCE(c.user_a, 0), COALESCE(c.user_b, 0), c.last_message_id, ` + unreadCount

// conversationPage: see the SQLite store. Ties (conversations without
// messages) are broken by id in byte order, COLLATE "C" as in the indexes,
// so both engines list alike.
const conversationPage = `WITH page AS (SELECT * FROM (
  (SELECT id, kind, user_a, user_b, last_message_id, message_count, unread_a, unread_b FROM conversations
    WHERE kind = 'channel' AND (last_message_id, id COLLATE "C") < ($2::bigint, $3::text COLLATE "C")
    ORDER BY last_message_id DESC, id COLLATE "C" DESC LIMIT $4)
  UNION ALL
  (SELECT id, kind, user_a, user_b, last_message_id, message_count, unread_a, unread_b FROM conversations
    WHERE user_a = $1 AND (last_message_id, id COLLATE "C") < ($2::bigint, $3::text COLLATE "C")
    ORDER BY last_message_id DESC, id COLLATE "C" DESC LIMIT $4)
  UNION ALL
  (SELECT id, kind, user_a, user_b, last_message_id, message_count, unread_a, unread_b FROM conversations
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
	rows, err = db.pool.Query(ctx, `SELECT `+messageColumns+messageFrom+`WHERE m.id = ANY($1)`, ids)
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
	if err := registerConversation(ctx, tx, ref); err != nil {
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
	rows, err := db.pool.Query(ctx, q+` ORDER BY m.id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	out, err := scanMessages(rows, err, limit+1)
	if err != nil {
		return nil, "", err
	}
	out, next := workspace.Paginate(out, limit, func(m *workspace.Message) int64 { return int64(m.ID) })
	return out, next, nil
}
