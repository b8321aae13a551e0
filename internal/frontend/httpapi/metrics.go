package httpapi

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/cairndb/cairn/internal/metrics"
)

// counted feeds the HTTP metrics (cairn_http_requests_total by status
// class, cairn_client_bytes_total{frontend="http"}) around h.
func (s *Server) counted(h http.Handler) http.Handler {
	f := s.cfg.FrontendMetrics
	if f == nil {
		return h
	}
	in, out := f.Bytes.WithLabelValues(metrics.FrontendHTTP, "in"), f.Bytes.WithLabelValues(metrics.FrontendHTTP, "out")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			// Login tokens expire silently: count the live ones for
			// this scrape.
			s.refreshSessions()
		}
		cw := &countingWriter{ResponseWriter: w}
		if r.Body != nil && r.Body != http.NoBody {
			cb := &countingBody{ReadCloser: r.Body}
			r.Body = cb
			defer func() { in.Add(float64(cb.n)) }()
		}
		h.ServeHTTP(cw, r)
		out.Add(float64(cw.n))
		code := cw.code
		if code == 0 {
			code = http.StatusOK
		}
		f.HTTPRequest(code)
	})
}

type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// countingWriter counts the body bytes written and keeps the status. It
// passes Flush and Hijack through, so streaming replies (server-sent
// events) work as without it.
type countingWriter struct {
	http.ResponseWriter
	code int
	n    int64
}

func (w *countingWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// Flush implements http.Flusher.
func (w *countingWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// Hijack implements http.Hijacker.
func (w *countingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// SetWriteDeadline lets http.ResponseController reach the real writer.
func (w *countingWriter) SetWriteDeadline(t time.Time) error {
	return http.NewResponseController(w.ResponseWriter).SetWriteDeadline(t)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// liveCountLocked is the number of unexpired login tokens.
func (s *sessions) liveCountLocked(now time.Time) int {
	n := 0
	for _, v := range s.mu.m {
		if now.Before(v.expires) {
			n++
		}
	}
	return n
}

// refreshSessions sets cairn_sessions_open{frontend="http"} to the live
// login tokens.
func (s *Server) refreshSessions() {
	if s.cfg.FrontendMetrics == nil {
		return
	}
	s.sessions.mu.Lock()
	n := s.sessions.liveCountLocked(s.now())
	s.sessions.mu.Unlock()
	s.cfg.FrontendMetrics.SetSessionsOpen(metrics.FrontendHTTP, n)
}

// sessionOpened counts a login token given out.
func (s *Server) sessionOpened() {
	if f := s.cfg.FrontendMetrics; f != nil {
		f.SessionsTotal.WithLabelValues(metrics.FrontendHTTP).Inc()
		s.refreshSessions()
	}
}
