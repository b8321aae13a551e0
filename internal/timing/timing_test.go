package timing

import (
	"reflect"
	"testing"
	"time"
)

// Every field has a positive default, and WithDefaults keeps what is set
// and fills only what is not.
func TestDefaults(t *testing.T) {
	d := reflect.ValueOf(Default())
	for i := range d.NumField() {
		if d.Field(i).Int() <= 0 {
			t.Errorf("%s has no default", d.Type().Field(i).Name)
		}
	}
	got := Timing{Heartbeat: time.Millisecond, MaxMoves: 7}.WithDefaults()
	if got.Heartbeat != time.Millisecond || got.MaxMoves != 7 {
		t.Fatalf("set fields changed: %+v", got)
	}
	if got.MoveTimeout != 30*time.Minute || got.OpAttempts != 5 {
		t.Fatalf("unset fields not filled: MoveTimeout %s, OpAttempts %d", got.MoveTimeout, got.OpAttempts)
	}
}
