// Package errkind gives internal errors a kind (retryable, not leader, no
// quorum, shutting down, cancelled, ...) that control flow can test
// without knowing what a client will be told. It is a leaf: the SQLSTATE a
// kind becomes is chosen at the edge, in pgerr.
package errkind

import "errors"

// Kind classifies an error by what the caller can do about it.
type Kind uint8

// The kinds. NotLeader and NoQuorum are also Retryable (see Is).
const (
	// Unknown: the error has no kind.
	Unknown Kind = iota
	// Retryable: the operation did not happen and may succeed if tried
	// again, maybe on another node.
	Retryable
	// NotLeader: this replica does not lead its group; retry on the leader.
	NotLeader
	// NoQuorum: the group has no leader or quorum right now; retry later.
	NoQuorum
	// Unavailable: a node cannot be reached or takes no requests now.
	Unavailable
	// ShuttingDown: this process (or the part that was asked) is stopping.
	ShuttingDown
	// Cancelled: the caller's context ended (cancel or timeout).
	Cancelled
)

var names = [...]string{
	Unknown:      "unknown",
	Retryable:    "retryable",
	NotLeader:    "not leader",
	NoQuorum:     "no quorum",
	Unavailable:  "unavailable",
	ShuttingDown: "shutting down",
	Cancelled:    "cancelled",
}

func (k Kind) String() string {
	if int(k) < len(names) {
		return names[k]
	}
	return "unknown"
}

// Retryable reports whether an error of kind k may succeed if the same
// operation is tried again (Retryable, NotLeader, NoQuorum).
func (k Kind) Retryable() bool { return k == Retryable || k == NotLeader || k == NoQuorum }

// Kinded is implemented by errors that carry a kind.
type Kinded interface {
	error
	ErrKind() Kind
}

// Error is an error with a kind and a message.
type Error struct {
	kind Kind
	msg  string
}

// New returns an error of kind k with message msg. Each call returns a
// distinct value, so it can serve as a sentinel compared with errors.Is.
func New(k Kind, msg string) *Error { return &Error{kind: k, msg: msg} }

func (e *Error) Error() string { return e.msg }

// ErrKind returns the error's kind.
func (e *Error) ErrKind() Kind { return e.kind }

// Of returns the kind of the first error in err's chain that has one
// (Unknown when none does).
func Of(err error) Kind {
	var k Kinded
	if errors.As(err, &k) {
		return k.ErrKind()
	}
	return Unknown
}

// Is reports whether err is of kind k. Is(err, Retryable) also holds for
// the kinds that are retryable (NotLeader, NoQuorum).
func Is(err error, k Kind) bool { return Of(err).Is(k) }

// Is reports whether an error of kind k is of kind want: the same kind, or
// want is Retryable and k is retryable. Nothing is of kind Unknown.
func (k Kind) Is(want Kind) bool {
	if want == Retryable {
		return k.Retryable()
	}
	return k == want && want != Unknown
}
