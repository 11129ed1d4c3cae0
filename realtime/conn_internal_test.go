package realtime

import (
	"fmt"
	"testing"
)

// Ensure a connection still catching up does not queue frames of messages
// it has replayed already: after an idle spell the tail may hand it many,
// and they would only count towards the slow-consumer cap.
func TestPendingSkipsReplayed(t *testing.T) {
	h := &Hub{}
	h.defaults()
	c := &conn{hub: h, lastSent: 10}
	for id := 1; id <= 12; id++ {
		c.enqueue(outFrame{msgID: id})
	}
	c.enqueue(outFrame{data: []byte(`{"type":"typing"}`)}) // no message id: kept
	var got []int
	for _, f := range c.pending {
		got = append(got, f.msgID)
	}
	if fmt.Sprint(got) != "[11 12 0]" {
		t.Fatalf("pending message ids %v, want [11 12 0]", got)
	}
}
