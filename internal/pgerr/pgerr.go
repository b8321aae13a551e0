// Package pgerr is the single table of client-facing errors: each carries
// a PostgreSQL SQLSTATE and a message a person can act on.
package pgerr

import (
	"errors"
	"fmt"

	"github.com/cairndb/cairn/internal/errkind"
)

// SQLSTATE codes used by Cairn.
const (
	SuccessfulCompletion         = "00000"
	FeatureNotSupported          = "0A000"
	InvalidParameterValue        = "22023"
	InvalidTextRep               = "22P02"
	BadCopyFileFormat            = "22P04"
	DivisionByZero               = "22012"
	NumericOutOfRange            = "22003"
	DatetimeFieldOverflow        = "22008"
	StringDataRightTrunc         = "22001"
	CharacterNotInRepertoire     = "22021"
	InvalidDatetimeFormat        = "22007"
	NotNullViolation             = "23502"
	InvalidCursorState           = "24000"
	InvalidTxState               = "25000"
	InFailedTx                   = "25P02"
	ActiveSQLTransaction         = "25001"
	NoActiveSQLTransaction       = "25P01"
	InvalidSQLStatementName      = "26000"
	InvalidCursorName            = "34000"
	InvalidAuthorization         = "28000"
	SerializationFailure         = "40001"
	SyntaxError                  = "42601"
	InsufficientPrivilege        = "42501"
	UndefinedColumn              = "42703"
	UndefinedFunction            = "42883"
	UndefinedTable               = "42P01"
	UndefinedObject              = "42704"
	UndefinedParameter           = "42P02"
	DuplicateTable               = "42P07"
	DuplicateObject              = "42710"
	DuplicateColumn              = "42701"
	DuplicatePreparedStatement   = "42P05"
	AmbiguousColumn              = "42702"
	DatatypeMismatch             = "42804"
	WrongObjectType              = "42809"
	GroupingError                = "42803"
	InvalidColumnRef             = "42P10"
	DependentObjects             = "2BP01"
	ProgramLimitExceeded         = "54000"
	TooManyConnections           = "53300"
	OutOfMemory                  = "53200"
	QueryCanceled                = "57014"
	AdminShutdown                = "57P01"
	CannotConnectNow             = "57P03"
	ObjectNotInPrerequisiteState = "55000"
	ObjectInUse                  = "55006"
	ProtocolViolation            = "08P01"
	ConnectionFailure            = "08006"
	ConfigFileError              = "F0000"
	InternalError                = "XX000"
	DataCorrupted                = "XX001"
	IOError                      = "58030"
)

// Error is an error with a SQLSTATE. Position is the 1-based character
// offset in the statement text the error refers to (0: none).
type Error struct {
	Code     string
	Message  string
	Detail   string
	Hint     string
	Position int
	Severity string // "" means ERROR
}

func (e *Error) Error() string { return e.Message }

// New returns an error with the given SQLSTATE and a formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithPos returns e with its position set (when pos > 0).
func (e *Error) WithPos(pos int) *Error {
	if pos > 0 {
		e.Position = pos
	}
	return e
}

// WithHint returns e with a hint.
func (e *Error) WithHint(format string, args ...any) *Error {
	e.Hint = fmt.Sprintf(format, args...)
	return e
}

// WithDetail returns e with a detail line.
func (e *Error) WithDetail(format string, args ...any) *Error {
	e.Detail = fmt.Sprintf(format, args...)
	return e
}

// From converts any error into an *Error: errors that already carry a
// SQLSTATE keep it; errors with an internal kind (errkind) get the
// SQLSTATE of their kind (see kindCodes); others become XX000 internal
// errors.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var coded interface {
		SQLState() string
	}
	if errors.As(err, &coded) {
		return &Error{Code: coded.SQLState(), Message: err.Error()}
	}
	if code, ok := kindCodes[errkind.Of(err)]; ok {
		return &Error{Code: code, Message: err.Error()}
	}
	return &Error{Code: InternalError, Message: err.Error()}
}

// Code returns the SQLSTATE of err (XX000 when it has none).
func Code(err error) string { return From(err).Code }

// Common constructors, used by name across the code base.

// UndefinedTableErr reports a missing stream or view.
func UndefinedTableErr(kind, name string) *Error {
	return ObjectNotFound.New(kind, name)
}

// Syntax reports a syntax error at pos.
func Syntax(pos int, format string, args ...any) *Error {
	return New(SyntaxError, format, args...).WithPos(pos)
}
