package pgwire

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// panicLog is a slog handler that remembers records at level Error (the
// server logs a recovered panic so).
type panicLog struct {
	mu   sync.Mutex
	msgs []string
}

func (h *panicLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h *panicLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	h.msgs = append(h.msgs, b.String())
	return nil
}
func (h *panicLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *panicLog) WithGroup(string) slog.Handler      { return h }

func encode(t testing.TB, msgs ...pgproto3.FrontendMessage) []byte {
	var b []byte
	for _, m := range msgs {
		var err error
		b, err = m.Encode(b)
		if err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// FuzzStartup feeds arbitrary bytes to a server as the client side of
// the startup, SSLRequest and SASL exchange (with an authenticator that
// runs real SCRAM for user alice): the connection must end within its
// startup deadline, and nothing may panic.
func FuzzStartup(f *testing.F) {
	startup := &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "alice", "database": "cairn"}}
	f.Add(encode(f, startup))
	f.Add(encode(f, &pgproto3.SSLRequest{}, startup))
	f.Add(encode(f, &pgproto3.GSSEncRequest{}, &pgproto3.SSLRequest{}, startup))
	f.Add(encode(f, &pgproto3.CancelRequest{ProcessID: 1, SecretKey: []byte{1, 2, 3, 4}}))
	f.Add(encode(f, startup, &pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=abcdef")}))
	f.Add(encode(f, startup, &pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=abcdef")}, &pgproto3.SASLResponse{Data: []byte("c=biws,r=abcdef,p=AAAA")}))
	f.Add(encode(f, startup, &pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256-PLUS", Data: []byte("p=tls-server-end-point,,n=,r=x")}))
	f.Add(encode(f, startup, &pgproto3.PasswordMessage{Password: "pw"}))
	f.Add(encode(f, startup, &pgproto3.Terminate{}))
	f.Add([]byte{0, 0, 0, 8, 4, 210, 22, 47})
	f.Add([]byte{0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})

	a := newFakeAuth(f, map[string]string{"alice": "pw"})
	log := &panicLog{}
	s := NewServer(Config{Auth: a, StartupTimeout: 100 * time.Millisecond, Logger: slog.New(log)}, newFakeHandler())
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		c := newConn(s, server)
		s.mu.Lock()
		s.mu.conns[c] = struct{}{}
		s.mu.Unlock()
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.serveConn(c)
		}()
		go io.Copy(io.Discard, client)
		client.SetWriteDeadline(time.Now().Add(time.Second))
		client.Write(in)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("the connection did not end within 5s of its 100ms startup deadline")
		}
		client.Close()
		log.mu.Lock()
		defer log.mu.Unlock()
		if len(log.msgs) > 0 {
			t.Fatalf("server logged %q", log.msgs)
		}
	})
}
