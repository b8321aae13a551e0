package pgerr

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cairndb/cairn/internal/errkind"
)

func TestKindCodes(t *testing.T) {
	for k, want := range map[errkind.Kind]string{
		errkind.Retryable:    "40001",
		errkind.NotLeader:    "40001",
		errkind.NoQuorum:     "40001",
		errkind.Unavailable:  "57P03",
		errkind.ShuttingDown: "57P01",
		errkind.Cancelled:    "57014",
		errkind.Unknown:      "XX000",
	} {
		err := fmt.Errorf("group 7: %w", errkind.New(k, "boom"))
		e := From(err)
		if e.Code != want || e.Message != "group 7: boom" {
			t.Errorf("%v: From = %s %q, want %s", k, e.Code, e.Message, want)
		}
		if k != errkind.Unknown && KindOf(err) != k {
			t.Errorf("%v: KindOf = %v", k, KindOf(err))
		}
	}
	// A SQLSTATE wins over a kind, and plain errors stay internal.
	if c := Code(New(DuplicateTable, "x")); c != DuplicateTable {
		t.Errorf("code %s", c)
	}
	if c := Code(errors.New("plain")); c != InternalError {
		t.Errorf("code %s", c)
	}
}

// Errors that arrive as a SQLSTATE only (from another node or the
// transport) are classified by code.
func TestKindOfCode(t *testing.T) {
	for code, want := range map[string]errkind.Kind{
		SerializationFailure: errkind.Retryable,
		AdminShutdown:        errkind.ShuttingDown,
		CannotConnectNow:     errkind.Unavailable,
		ConnectionFailure:    errkind.Unavailable,
		QueryCanceled:        errkind.Cancelled,
		DuplicateTable:       errkind.Unknown,
		InternalError:        errkind.Unknown,
	} {
		err := fmt.Errorf("wrapped: %w", &Error{Code: code, Message: "m"})
		if k := KindOf(err); k != want {
			t.Errorf("%s: kind %v, want %v", code, k, want)
		}
	}
	if !IsKind(New(SerializationFailure, "r"), errkind.Retryable) || IsKind(New(AdminShutdown, "s"), errkind.Retryable) {
		t.Error("IsKind")
	}
	if KindOf(nil) != errkind.Unknown || IsKind(errors.New("x"), errkind.Unknown) {
		t.Error("nil/unknown")
	}
}
