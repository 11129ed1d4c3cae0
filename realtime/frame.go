package realtime

import (
	"encoding/json"
	"time"

	"workspace"
)

// Frame is what the server sends: a type, the id of what it is about, a
// timestamp and the data.
type Frame struct {
	Type string    `json:"type"`
	ID   int       `json:"id"`
	TS   time.Time `json:"ts"`
	Data any       `json:"data,omitempty"`
}

// ClientFrame is what a client sends.
type ClientFrame struct {
	Type           string `json:"type"` // auth, typing, message.send
	Token          string `json:"token,omitempty"`
	LastMessageID  int    `json:"last_message_id,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
	Text           string `json:"text,omitempty"`
	Ref            string `json:"ref,omitempty"` // echoed in the ack of message.send
}

// outFrame is an encoded frame and, for new messages, the message id used
// to skip what a connection already has.
type outFrame struct {
	data  []byte
	msgID int
}

func encode(typ string, id int, data any) []byte {
	b, _ := json.Marshal(Frame{Type: typ, ID: id, TS: time.Now().UTC(), Data: data})
	return b
}

// messageFrames encodes a message once for admins and once, with a
// deleted text hidden, for everyone else.
type messageFrames struct {
	typ   string
	m     *workspace.Message
	plain []byte
	red   []byte
}

func (f *messageFrames) forActor(a workspace.Actor) []byte {
	if f.m.DeletedAt == nil || a.IsAdmin() {
		if f.plain == nil {
			f.plain = encode(f.typ, f.m.ID, f.m)
		}
		return f.plain
	}
	if f.red == nil {
		c := *f.m
		c.Redact(a)
		f.red = encode(f.typ, c.ID, &c)
	}
	return f.red
}
