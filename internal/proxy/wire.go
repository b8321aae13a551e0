package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Just enough of the PostgreSQL wire protocol to route a session: the
// untyped startup packets, the framing of typed messages, and an
// ErrorResponse of the proxy's own.

// Request codes of the untyped first packets.
const (
	protocolV3  = 196608
	sslRequest  = 80877103
	gssRequest  = 80877104
	cancelCode  = 80877102
	maxStartup  = 10000   // as PostgreSQL
	maxFrameLen = 1 << 30 // a message's length field, as PostgreSQL
)

// readStartup reads one untyped packet: its code and the whole packet
// (length included), to forward as it is.
func readStartup(r io.Reader) (code uint32, pkt []byte, err error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 8 || n > maxStartup {
		return 0, nil, fmt.Errorf("invalid startup packet length %d", n)
	}
	pkt = make([]byte, n)
	copy(pkt, hdr[:])
	if _, err := io.ReadFull(r, pkt[8:]); err != nil {
		return 0, nil, err
	}
	return binary.BigEndian.Uint32(hdr[4:]), pkt, nil
}

// frame is a typed message's header: its type byte and the length of
// the body that follows.
type frame struct {
	typ  byte
	body int64
}

// readFrame reads a typed message's header.
func readFrame(r io.Reader) (frame, [5]byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return frame{}, hdr, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n < 4 || n > maxFrameLen {
		return frame{}, hdr, errors.New("invalid message length")
	}
	return frame{typ: hdr[0], body: int64(n) - 4}, hdr, nil
}

// errorResponse is an ErrorResponse of e with severity sev (ERROR or
// FATAL).
func errorResponse(sev string, e *pgerr.Error) []byte {
	b := []byte{'E', 0, 0, 0, 0}
	field := func(t byte, v string) {
		if v != "" {
			b = append(append(append(b, t), v...), 0)
		}
	}
	field('S', sev)
	field('V', sev)
	field('C', e.Code)
	field('M', e.Message)
	field('H', e.Hint)
	b = append(b, 0)
	binary.BigEndian.PutUint32(b[1:], uint32(len(b)-1))
	return b
}
