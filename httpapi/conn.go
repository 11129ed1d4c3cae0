package httpapi

import (
	"bytes"
	"context"
	"io"
	"net"
)

// Responses written whole (the JSON bodies, statusRecorder.WriteBody) go
// out in one write(2) when the server's listener comes from NewListener.
//
// net/http puts the status line and headers in a 4 KB buffer and writes a
// larger body past it, so a 10 KB page of messages took two write calls,
// each a trip through the TCP stack that also wakes the reader: on
// loopback (a reverse proxy, or the load benchmark) the kernel's send path
// was most of the server's system time. The connection holds what net/http
// writes while one body is written and flushed, then sends it in a single
// call. Nothing else changes: bodies below holdMin, streamed bodies and
// WebSocket connections write straight through.

// holdMin is the body size from which a response is held: a smaller one
// fits net/http's buffer with its headers and goes out in one write anyway.
const holdMin = 3 << 10

// holdMax bounds what a connection holds; a larger body is written as
// net/http writes it rather than copied whole.
const holdMax = 1 << 20

type connKey struct{}

// NewListener wraps ln so that the responses of a server whose ConnContext
// is ConnContext can go out in one write.
func NewListener(ln net.Listener) net.Listener { return holdListener{ln} }

// ConnContext is the http.Server ConnContext that goes with NewListener: it
// lets the request's response writer find its connection.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if hc, ok := c.(*holdConn); ok {
		ctx, hc.cancel = context.WithCancel(ctx)
		return context.WithValue(ctx, connKey{}, hc)
	}
	return ctx
}

type holdListener struct{ net.Listener }

func (l holdListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &holdConn{Conn: c}, nil
}

// holdConn is a connection that can hold its writes. net/http writes to a
// connection from the goroutine serving it, which is the one that holds and
// sends, so the fields need no lock.
type holdConn struct {
	net.Conn
	buf    *bytes.Buffer      // held bytes (from bodyBuffers); nil when not holding
	werr   error              // a failed send, returned by every later write
	cancel context.CancelFunc // ends the connection's context (ConnContext)
}

func (c *holdConn) Write(p []byte) (int, error) {
	if c.werr != nil {
		return 0, c.werr
	}
	if c.buf != nil {
		return c.buf.Write(p)
	}
	return c.Conn.Write(p)
}

// hold starts holding writes.
func (c *holdConn) hold() {
	if c.buf == nil {
		c.buf = bodyBuffers.Get().(*bytes.Buffer)
	}
}

// send writes what was held in one call and stops holding. If that write
// fails the connection is closed and its context canceled, as net/http
// does after a failed write: the bytes it thought written never went out,
// and a handler (huma) that sees the context end takes the failure for a
// client gone away, not for an error of its own.
func (c *holdConn) send() error {
	b := c.buf
	if b == nil {
		return nil
	}
	c.buf = nil
	var err error
	if b.Len() > 0 {
		_, err = c.Conn.Write(b.Bytes())
	}
	putBodyBuffer(b)
	if err != nil {
		c.werr = err
		c.Close()
	}
	return err
}

// Close also ends the connection's context, so that a cancelable base
// context (http.Server.BaseContext) does not keep one child per connection.
func (c *holdConn) Close() error {
	if c.cancel != nil {
		c.cancel()
	}
	return c.Conn.Close()
}

// ReadFrom and CloseWrite keep what net/http looks for on a *net.TCPConn
// (sendfile for files, a half-close before a connection is dropped).
func (c *holdConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok && c.buf == nil && c.werr == nil {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c}, r)
}

func (c *holdConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
