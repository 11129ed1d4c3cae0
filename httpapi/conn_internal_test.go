package httpapi

import (
	"errors"
	"io"
	"net"
	"testing"
)

// Ensure a held response whose write fails closes the connection and
// fails every later write, so net/http drops the connection instead of
// answering the next request on a stream that lost bytes.
func TestHoldConnSendFails(t *testing.T) {
	server, client := net.Pipe()
	client.Close()
	c := &holdConn{Conn: server}
	c.hold()
	if n, err := c.Write([]byte("HTTP/1.1 200 OK\r\n")); n != 17 || err != nil {
		t.Fatalf("held write: %d, %v", n, err)
	}
	if err := c.send(); err == nil {
		t.Fatal("send to a closed peer succeeded")
	}
	if _, err := c.Write([]byte("more")); err == nil {
		t.Fatal("a write after a failed send succeeded")
	}
	if _, err := server.Read(make([]byte, 1)); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("connection not closed after a failed send: %v", err)
	}
}
