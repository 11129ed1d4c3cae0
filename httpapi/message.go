package httpapi

import (
	"context"
	"strings"

	"workspace"
)

// ConversationListInput pages the caller's conversations.
type ConversationListInput struct {
	Cursor string `query:"cursor" maxLength:"128" doc:"next_cursor of the previous page."`
	Limit  int    `query:"limit" minimum:"0" maximum:"200" doc:"Page size (default 50)."`
}

// ConversationListOutput is one page of the caller's conversations.
type ConversationListOutput struct {
	Body struct {
		Conversations []*workspace.ConversationSummary `json:"conversations"`
		NextCursor    string                           `json:"next_cursor,omitempty" doc:"Present when more conversations follow."`
	}
}

func (s *Server) handleConversationList(ctx context.Context, in *ConversationListInput) (*ConversationListOutput, error) {
	a := workspace.ActorFromContext(ctx)
	list, next, err := s.Store.FindConversations(ctx, a.UserID, workspace.ConversationFilter{Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	for _, c := range list {
		if c.LastMessage != nil {
			c.LastMessage.Redact(a) // deleted between the store's two reads
		}
	}
	out := &ConversationListOutput{}
	out.Body.Conversations, out.Body.NextCursor = nonNil(list), next
	return out, nil
}

// OpenDMInput names the other user of a direct conversation.
type OpenDMInput struct {
	Body struct {
		UserID   int    `json:"user_id,omitempty" minimum:"1" maximum:"2147483647"`
		Username string `json:"username,omitempty" maxLength:"255"`
	}
}

// ConversationOutput answers with one conversation.
type ConversationOutput struct {
	Body *workspace.ConversationSummary
}

func (s *Server) handleConversationOpenDM(ctx context.Context, in *OpenDMInput) (*ConversationOutput, error) {
	other := in.Body.UserID
	if (other == 0) == (in.Body.Username == "") {
		return nil, s.Error(ctx, workspace.Invalid("user_id", "give exactly one of user_id or username"))
	}
	if other == 0 {
		if strings.Contains(in.Body.Username, "@") { // no lookup by email: it would reveal whose address it is
			return nil, s.Error(ctx, workspace.Invalid("username", "is a username, not an email"))
		}
		u, err := s.Store.FindUserByLogin(ctx, in.Body.Username)
		if err != nil {
			return nil, s.Error(ctx, err)
		}
		other = u.ID
	}
	c, err := s.Store.OpenDirectConversation(ctx, other)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return &ConversationOutput{Body: c}, nil
}

// ConversationIDInput names a conversation in the path.
type ConversationIDInput struct {
	ID string `path:"id" maxLength:"255" example:"general"`
}

func (s *Server) handleConversationRead(ctx context.Context, in *ConversationIDInput) (*struct{}, error) {
	a := workspace.ActorFromContext(ctx)
	if err := s.Store.MarkConversationRead(ctx, a.UserID, in.ID); err != nil {
		return nil, s.Error(ctx, err)
	}
	s.publish(ctx, workspace.Change{Kind: workspace.ChangeMessageRead, ConversationID: in.ID, UserID: a.UserID})
	return nil, nil
}

// MessageListInput selects a page of a conversation.
type MessageListInput struct {
	ConversationID string `query:"conversation_id" maxLength:"255" default:"general" doc:"Channel name or dm:<a>:<b>."`
	Before         int    `query:"before" minimum:"0" maximum:"2147483647" doc:"Messages older than this id, newest first."`
	After          int    `query:"after" minimum:"0" maximum:"2147483647" doc:"Messages newer than this id, oldest first (catching up)."`
	Limit          int    `query:"limit" minimum:"0" maximum:"200" doc:"Page size (default 50)."`
}

// MessageListOutput is a page of messages.
type MessageListOutput struct {
	Body struct {
		Messages []*workspace.Message `json:"messages"`
		HasMore  bool                 `json:"has_more" doc:"More messages exist in the same direction."`
	}
}

func (s *Server) handleMessageList(ctx context.Context, in *MessageListInput) (*MessageListOutput, error) {
	a := workspace.ActorFromContext(ctx)
	if in.Before > 0 && in.After > 0 {
		return nil, s.Error(ctx, workspace.Invalid("after", "use before or after, not both"))
	}
	list, more, err := s.Store.FindMessages(ctx, a.UserID, workspace.MessageFilter{
		ConversationID: in.ConversationID, Before: in.Before, After: in.After, Limit: in.Limit,
	})
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	for _, m := range list {
		m.Redact(a)
	}
	out := &MessageListOutput{}
	out.Body.Messages, out.Body.HasMore = nonNil(list), more
	return out, nil
}

// MessageCreateInput sends a message.
type MessageCreateInput struct {
	Body struct {
		ConversationID string `json:"conversation_id,omitempty" maxLength:"255" default:"general"`
		Text           string `json:"text" minLength:"1" maxLength:"10000"`
	}
}

// MessageOutput answers with one message.
type MessageOutput struct {
	Body *workspace.Message
}

func (s *Server) handleMessageCreate(ctx context.Context, in *MessageCreateInput) (*MessageOutput, error) {
	m := &workspace.Message{ConversationID: in.Body.ConversationID, Text: in.Body.Text}
	if m.ConversationID == "" {
		m.ConversationID = workspace.DefaultChannel
	}
	if err := s.Store.CreateMessage(ctx, m); err != nil {
		return nil, s.Error(ctx, err)
	}
	s.publish(ctx, workspace.Change{Kind: workspace.ChangeMessageCreated, ID: m.ID, ConversationID: m.ConversationID, UserID: m.UserID})
	return &MessageOutput{Body: m}, nil
}

// MessageIDInput names a message.
type MessageIDInput struct {
	ID int `path:"id" minimum:"1" maximum:"2147483647"`
}

func (s *Server) handleMessageGet(ctx context.Context, in *MessageIDInput) (*MessageOutput, error) {
	a := workspace.ActorFromContext(ctx)
	m, err := s.Store.FindMessageByID(ctx, a.UserID, in.ID)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	m.Redact(a)
	return &MessageOutput{Body: m}, nil
}

// MessageUpdateInput edits a message.
type MessageUpdateInput struct {
	ID   int `path:"id" minimum:"1" maximum:"2147483647"`
	Body struct {
		Text string `json:"text" minLength:"1" maxLength:"10000"`
	}
}

func (s *Server) handleMessageUpdate(ctx context.Context, in *MessageUpdateInput) (*MessageOutput, error) {
	m, err := s.Store.UpdateMessageText(ctx, in.ID, in.Body.Text)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	s.publish(ctx, workspace.Change{Kind: workspace.ChangeMessageUpdated, ID: m.ID, ConversationID: m.ConversationID, UserID: m.UserID})
	return &MessageOutput{Body: m}, nil
}

func (s *Server) handleMessageDelete(ctx context.Context, in *MessageIDInput) (*struct{}, error) {
	m, err := s.Store.DeleteMessage(ctx, in.ID)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	s.publish(ctx, workspace.Change{Kind: workspace.ChangeMessageDeleted, ID: m.ID, ConversationID: m.ConversationID, UserID: m.UserID})
	return nil, nil
}

func (s *Server) handleMessageRead(ctx context.Context, in *MessageIDInput) (*MessageOutput, error) {
	a := workspace.ActorFromContext(ctx)
	m, err := s.Store.MarkMessageRead(ctx, a.UserID, in.ID)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	if m.UserID != a.UserID { // a read receipt for the author of a direct message
		s.publish(ctx, workspace.Change{Kind: workspace.ChangeMessageRead, ID: m.ID, ConversationID: m.ConversationID, UserID: a.UserID})
	}
	m.Redact(a)
	return &MessageOutput{Body: m}, nil
}

// UnreadOutput answers the unread counts.
type UnreadOutput struct {
	Body *workspace.UnreadCounts
}

func (s *Server) handleMessageUnread(ctx context.Context, _ *struct{}) (*UnreadOutput, error) {
	u, err := s.Store.CountUnread(ctx, workspace.ActorFromContext(ctx).UserID)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return &UnreadOutput{Body: u}, nil
}

// PageInput pages a view.
type PageInput struct {
	Cursor string `query:"cursor" maxLength:"128"`
	Limit  int    `query:"limit" minimum:"0" maximum:"200" doc:"Page size (default 50)."`
}

// RecentMessagesOutput is a page of the recent_messages view.
type RecentMessagesOutput struct {
	Body struct {
		Messages   []*workspace.Message `json:"messages"`
		NextCursor string               `json:"next_cursor,omitempty"`
	}
}

func (s *Server) handleMessageRecent(ctx context.Context, in *PageInput) (*RecentMessagesOutput, error) {
	list, next, err := s.Store.FindRecentMessages(ctx, workspace.ActorFromContext(ctx).UserID, in.Cursor, in.Limit)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	out := &RecentMessagesOutput{}
	out.Body.Messages, out.Body.NextCursor = nonNil(list), next
	return out, nil
}

// nonNil turns a nil list into an empty one, so JSON says [] not null.
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
