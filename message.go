package workspace

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is a chat message (the seed's messages table). Username is the
// author's, joined for display.
type Message struct {
	ID             int        `json:"id"`
	UserID         int        `json:"user_id"`
	Username       string     `json:"username"`
	ConversationID string     `json:"conversation_id"`
	Text           string     `json:"text"`
	IsRead         bool       `json:"is_read" doc:"Direct conversations: read by the recipient."`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	DeletedAt      *time.Time `json:"deleted_at"`
}

// MaxMessageLen bounds a message's text, in characters.
const MaxMessageLen = 10_000

// DefaultChannel is the conversation of a message sent without one.
const DefaultChannel = "general"

// Conversation kinds.
const (
	KindDirect  = "direct"
	KindChannel = "channel"
)

// ConversationRef is a parsed conversation id.
type ConversationRef struct {
	ID   string
	Kind string
	A, B int // the two users of a direct conversation, A < B
}

var channelRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ParseConversation parses a conversation id: "dm:<a>:<b>" with user ids
// a < b is a direct conversation; a channel name is 1-64 characters of
// a-z, 0-9, '.', '_', '-'. Returns EINVALID for anything else.
func ParseConversation(id string) (ConversationRef, error) {
	if rest, ok := strings.CutPrefix(id, "dm:"); ok {
		as, bs, ok := strings.Cut(rest, ":")
		a, errA := strconv.Atoi(as)
		b, errB := strconv.Atoi(bs)
		if !ok || errA != nil || errB != nil || a <= 0 || b <= a || b > MaxID || strconv.Itoa(a) != as || strconv.Itoa(b) != bs {
			return ConversationRef{}, Invalid("conversation_id", "a direct conversation is dm:<a>:<b> with user ids a < b")
		}
		return ConversationRef{ID: id, Kind: KindDirect, A: a, B: b}, nil
	}
	if !channelRE.MatchString(id) {
		return ConversationRef{}, Invalid("conversation_id", "a channel is 1-64 characters of a-z, 0-9, '.', '_', '-' (or dm:<a>:<b>)")
	}
	return ConversationRef{ID: id, Kind: KindChannel}, nil
}

// DirectConversation returns the id of the direct conversation of two users.
func DirectConversation(u1, u2 int) string {
	a, b := min(u1, u2), max(u1, u2)
	return fmt.Sprintf("dm:%d:%d", a, b)
}

// CanRead reports whether the user may read the conversation: channels are
// readable by every signed-in user, direct conversations by their two users.
func (c ConversationRef) CanRead(userID int) bool {
	return userID != 0 && (c.Kind == KindChannel || c.A == userID || c.B == userID)
}

// UnreadDelta is what message m (nil: none) counts, while it is live and
// unread, in the unread counters of a direct conversation's two sides
// (user A's, user B's): one, on the side it was sent to. Channel messages
// are never unread by flag (see migration 00003), so they count nowhere.
func (c ConversationRef) UnreadDelta(m *Message) (a, b int) {
	if m == nil || c.Kind != KindDirect || m.IsRead {
		return 0, 0
	}
	if m.UserID == c.A {
		return 0, 1
	}
	return 1, 0
}

// Other returns the other user of a direct conversation.
func (c ConversationRef) Other(userID int) int {
	if c.A == userID {
		return c.B
	}
	return c.A
}

// ValidateText checks a text field: valid UTF-8, no NUL (PostgreSQL cannot
// store it), not blank, at most max characters.
func ValidateText(v *Validation, field, s string, maxLen int, required bool) {
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case strings.ContainsRune(s, 0):
		v.Add(field, "must not contain NUL characters")
	case required && strings.TrimSpace(s) == "":
		v.Add(field, "must not be empty")
	case utf8.RuneCountInString(s) > maxLen:
		v.Add(field, "must be at most %d characters", maxLen)
	}
}

// Validate checks a message before it is stored.
func (m *Message) Validate() error {
	var v Validation
	if _, err := ParseConversation(m.ConversationID); err != nil {
		return err
	}
	ValidateText(&v, "text", m.Text, MaxMessageLen, true)
	return v.Err()
}

// CanEditMessage reports whether the actor may edit m: its author, while
// it is not deleted.
func CanEditMessage(a Actor, m *Message) bool { return a.UserID == m.UserID && m.DeletedAt == nil }

// CanDeleteMessage reports whether the actor may delete m: its author, or
// an admin (moderation).
func CanDeleteMessage(a Actor, m *Message) bool { return a.UserID == m.UserID || a.IsAdmin() }

// Redact hides the text of a deleted message from everyone but admins.
func (m *Message) Redact(a Actor) {
	if m.DeletedAt != nil && !a.IsAdmin() {
		m.Text = ""
	}
}

// MessageFilter selects the messages of one conversation. With After the
// page is the oldest messages newer than After, oldest first (catching up);
// otherwise the newest messages older than Before (0: the newest), newest
// first.
type MessageFilter struct {
	ConversationID string
	Before, After  int
	Limit          int
}

// ConversationSummary is a conversation as its reader lists it.
type ConversationSummary struct {
	ID          string   `json:"id"`
	Kind        string   `json:"kind" enum:"direct,channel"`
	UserIDs     []int    `json:"user_ids,omitempty" doc:"The two users of a direct conversation."`
	LastMessage *Message `json:"last_message"`
	UnreadCount int      `json:"unread_count"`

	// LastMessageID is the id of LastMessage as the list's order saw it (0:
	// none): the position of the conversation in the list.
	LastMessageID int `json:"-"`
}

// ConversationFilter pages a reader's conversation list.
type ConversationFilter struct {
	Cursor string // the next cursor of the previous page; empty: the first page
	Limit  int    // PageLimit applies
}

// UnreadCounts is a user's unread messages, in total and per conversation.
type UnreadCounts struct {
	Total         int            `json:"total"`
	Conversations map[string]int `json:"conversations"`
}

// MessageStore persists chat. Reads take the reader's id and return only
// what they may read. Sending and marking read are not audited (the rows
// are their own record); edits and deletions are.
type MessageStore interface {
	// CreateMessage stores m (filling ID, Username, timestamps) from the
	// actor. Returns EINVALID, and ENOTFOUND if the actor may not write to
	// the conversation (not one of a direct conversation's users, or the
	// other user does not exist).
	CreateMessage(ctx context.Context, m *Message) error
	// FindMessageByID returns ENOTFOUND if there is no such message or
	// readerID may not read its conversation.
	FindMessageByID(ctx context.Context, readerID, id int) (*Message, error)
	// FindMessages returns a page of a conversation and whether more exist
	// in that direction. Returns ENOTFOUND if readerID may not read it.
	FindMessages(ctx context.Context, readerID int, f MessageFilter) ([]*Message, bool, error)
	// UpdateMessageText edits a message (author only, not deleted).
	// Returns ENOTFOUND or EFORBIDDEN.
	UpdateMessageText(ctx context.Context, id int, text string) (*Message, error)
	// DeleteMessage soft-deletes a message (author or admin). Returns
	// ENOTFOUND (also if already deleted) or EFORBIDDEN.
	DeleteMessage(ctx context.Context, id int) (*Message, error)
	// MarkMessageRead marks one message read by readerID: the is_read flag
	// of a direct message to them, or their read cursor of a channel.
	// Returns ENOTFOUND.
	MarkMessageRead(ctx context.Context, readerID, id int) (*Message, error)
	// MarkConversationRead marks a whole conversation read by readerID.
	// Returns ENOTFOUND if they may not read it.
	MarkConversationRead(ctx context.Context, readerID int, conversationID string) error
	// FindConversations returns a page of the conversations readerID can
	// read that have messages (or were opened), with unread counts: by
	// last live message, newest first, then those without messages by id
	// (descending, byte order). The string is the cursor of the next page,
	// empty on the last.
	FindConversations(ctx context.Context, readerID int, f ConversationFilter) ([]*ConversationSummary, string, error)
	// FindConversation returns one conversation of readerID's list.
	// ENOTFOUND if they may not read it or it was never used.
	FindConversation(ctx context.Context, readerID int, id string) (*ConversationSummary, error)
	// OpenDirectConversation records the direct conversation of the actor
	// and otherID (so it is listed) and returns it. ENOTFOUND if otherID
	// does not exist; EINVALID for oneself.
	OpenDirectConversation(ctx context.Context, otherID int) (*ConversationSummary, error)
	// CountUnread returns readerID's unread counts.
	CountUnread(ctx context.Context, readerID int) (*UnreadCounts, error)
	// FindMessagesSince returns up to limit messages with an id above
	// afterID in every conversation readerID may read (readerID 0: all
	// conversations), in id order: the catch-up of a reconnecting client and
	// the tail that feeds live WebSocket delivery.
	FindMessagesSince(ctx context.Context, readerID, afterID, limit int) ([]*Message, error)
	// LatestMessageID returns the highest message id (0 when none).
	LatestMessageID(ctx context.Context) (int, error)
	// FindRecentMessages reads the recent_messages view (last 24 h) for the
	// conversations readerID may read, newest first.
	FindRecentMessages(ctx context.Context, readerID int, cursor string, limit int) ([]*Message, string, error)
}

// Message audit actions.
const (
	ActionMessageUpdate = "message.update"
	ActionMessageDelete = "message.delete"
)

// MessageAudit is the audit row of an edit or deletion: ids only, never the text.
func MessageAudit(action string, m *Message) Audit {
	return Audit{Action: action, Metadata: map[string]any{"message_id": m.ID, "conversation_id": m.ConversationID, "author_id": m.UserID}}
}

// AttachLastMessages sets each conversation's LastMessage from msgs (the
// last live message of each).
func AttachLastMessages(list []*ConversationSummary, msgs []*Message) {
	byConv := make(map[string]*Message, len(msgs))
	for _, m := range msgs {
		byConv[m.ConversationID] = m
	}
	for _, c := range list {
		c.LastMessage = byConv[c.ID]
	}
}

// ConversationPageBounds decodes f: the position the page starts after (no
// cursor: above every message id, so from the start) and the page size.
func ConversationPageBounds(f ConversationFilter) (lastMessageID int, id string, limit int, err error) {
	lastMessageID, id, ok, err := DecodeConversationCursor(f.Cursor)
	if err != nil {
		return 0, "", 0, err
	}
	if !ok {
		lastMessageID = MaxID + 1
	}
	return lastMessageID, id, PageLimit(f.Limit), nil
}

// PaginateConversations trims rows, read with limit+1, to limit and returns
// the cursor of the next page (empty on the last).
func PaginateConversations(rows []*ConversationSummary, limit int) ([]*ConversationSummary, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, EncodeConversationCursor(rows[limit-1].LastMessageID, rows[limit-1].ID)
}

// MessageRows is what ReadMessages needs of a result set; *sql.Rows and
// pgx.Rows both have it.
type MessageRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ReadMessages reads the remaining rows of a message SELECT, for the
// stores: every row scans into one Message through the destination list
// destOf returns for it, and is copied into one slice of values the
// result points into. A page of 50 is thus a few allocations for its
// messages, not two per row (the message and its destination list, which
// escapes through the Scan of an interface). capacity is the number of
// rows expected (a page's limit + 1), not a LIMIT that is only a cap: the
// slice is made that large (at most MaxPageSize + 1) before the first
// row. It returns nil for no rows; the caller closes rows and maps the
// error.
func ReadMessages(rows MessageRows, destOf func(*Message) []any, capacity int) ([]*Message, error) {
	var m Message
	dest := destOf(&m)
	list := make([]Message, 0, min(max(capacity, 0), MaxPageSize+1))
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		list = append(list, m)
	}
	if err := rows.Err(); err != nil || len(list) == 0 {
		return nil, err
	}
	out := make([]*Message, len(list))
	for i := range list {
		out[i] = &list[i]
	}
	return out, nil
}
