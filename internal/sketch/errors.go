package sketch

import (
	"errors"
	"fmt"
)

// ErrCorrupt marks every decoding failure: a truncated, corrupt or
// foreign encoding. Decoders wrap it with what was wrong.
var ErrCorrupt = errors.New("sketch: corrupt encoding")

// ParamError is a sketch parameter out of its valid range. Its message
// names the parameter, the value given and the valid range; the SQL layer
// turns it into SQLSTATE 22023 (invalid_parameter_value).
type ParamError struct {
	Sketch string // "hll", "tdigest", "countmin", "topk", "bloom"
	Param  string // the parameter's name, e.g. "precision"
	Value  string // the value given, as written
	Valid  string // the valid range, e.g. "4..18"
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("%s %s %s is out of range: valid range is %s", e.Sketch, e.Param, e.Value, e.Valid)
}

func paramErr(sketch, param string, value any, valid string) error {
	return &ParamError{Sketch: sketch, Param: param, Value: fmt.Sprint(value), Valid: valid}
}

// corrupt returns an ErrCorrupt for the named sketch, with why.
func corrupt(sketch, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, sketch, fmt.Sprintf(format, args...))
}
