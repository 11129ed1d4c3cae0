package realtime

import (
	"context"
	"log/slog"
	"time"

	"workspace"
)

func (h *Hub) dispatchLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-h.events:
			if err := h.dispatch(ctx, c); err != nil && ctx.Err() == nil {
				h.Logger.Debug("dispatch change", slog.String("kind", c.Kind), slog.Any("err", err))
			}
		}
	}
}

// fanOutMessage sends a message change to the connections that may read
// its conversation. tail marks new messages, which carry their id for
// the per-connection skip of what a reconnecting client already has.
func (h *Hub) fanOutMessage(typ string, m *workspace.Message, tail bool) {
	ref, err := workspace.ParseConversation(m.ConversationID)
	if err != nil {
		return
	}
	frames := &messageFrames{typ: typ, m: m}
	for _, c := range h.connections() {
		if !ref.CanRead(c.actor.UserID) {
			continue
		}
		f := outFrame{data: frames.forActor(c.actor)}
		if tail {
			f.msgID = m.ID
		}
		c.enqueue(f)
	}
}

// dispatch reads what a change is about and sends it to the connections
// allowed to see it.
func (h *Hub) dispatch(ctx context.Context, ch workspace.Change) error {
	switch ch.Kind {
	case workspace.ChangeMessageUpdated, workspace.ChangeMessageDeleted:
		// The tail first: a message edited right after it was sent must
		// reach clients as created before it reaches them as updated.
		if err := h.tail(ctx); err != nil {
			return err
		}
		ref, err := workspace.ParseConversation(ch.ConversationID)
		if err != nil {
			return err
		}
		reader := ref.A // any user who may read it
		if ref.Kind == workspace.KindChannel {
			reader = max(ch.UserID, 1)
		}
		m, err := h.Store.FindMessageByID(ctx, reader, ch.ID)
		if err != nil {
			return err
		}
		h.fanOutMessage(ch.Kind, m, false)

	case workspace.ChangeMessageRead:
		ref, err := workspace.ParseConversation(ch.ConversationID)
		if err != nil || ref.Kind != workspace.KindDirect {
			return err
		}
		data := map[string]any{"conversation_id": ch.ConversationID, "message_id": ch.ID, "reader_id": ch.UserID}
		frame := outFrame{data: encode(ch.Kind, ch.ID, data)}
		for _, c := range h.connections() {
			if ref.CanRead(c.actor.UserID) {
				c.enqueue(frame)
			}
		}

	case workspace.ChangeEventCreated, workspace.ChangeEventUpdated, workspace.ChangeEventDeleted:
		e, err := h.Store.LoadCalendarEvent(ctx, ch.ID)
		if err != nil {
			return err
		}
		frame := outFrame{data: encode(ch.Kind, e.ID, e)}
		for _, c := range h.connections() {
			if e.CanRead(c.actor.UserID) {
				c.enqueue(frame)
			}
		}

	case workspace.ChangePresence:
		online, err := h.Store.FindOnlineUsers(ctx, time.Now().Add(-h.PresenceTTL))
		if err != nil {
			return err
		}
		status := "offline"
		for _, o := range online {
			if o.UserID == ch.UserID {
				status = "online"
			}
		}
		frame := outFrame{data: encode(ch.Kind, ch.UserID, map[string]any{"user_id": ch.UserID, "status": status, "online": online})}
		for _, c := range h.connections() {
			c.enqueue(frame)
		}

	case workspace.ChangeTyping:
		ref, err := workspace.ParseConversation(ch.ConversationID)
		if err != nil {
			return err
		}
		u, err := h.Store.FindUserByID(ctx, ch.UserID)
		if err != nil {
			return err
		}
		frame := outFrame{data: encode(ch.Kind, ch.UserID, map[string]any{
			"conversation_id": ch.ConversationID, "user_id": u.ID, "username": u.Username})}
		for _, c := range h.connections() {
			if c.actor.UserID != ch.UserID && ref.CanRead(c.actor.UserID) {
				c.enqueue(frame)
			}
		}

	default:
		return h.dispatchOther(ctx, ch)
	}
	return nil
}
