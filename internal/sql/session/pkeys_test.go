package session

import (
	"fmt"
	"strings"
	"testing"
)

// TestMaxIndexKeys: max_index_keys reports the primary key column limit
// (pgjdbc's getImportedKeys reads it), and CREATE TABLE enforces it with
// PostgreSQL's error.
func TestMaxIndexKeys(t *testing.T) {
	f := newTableBackend()
	s := New(f, "cairn", nil)
	create := func(n int) string {
		var cols, key []string
		for i := range n {
			cols = append(cols, fmt.Sprintf("c%d int", i))
			key = append(key, fmt.Sprintf("c%d", i))
		}
		return fmt.Sprintf("CREATE TABLE w%d (%s, PRIMARY KEY (%s))", n, strings.Join(cols, ", "), strings.Join(key, ", "))
	}
	if got := f.run(t, s, create(33)); !strings.Contains(got, "54011") || !strings.Contains(got, "cannot use more than 32 columns in an index") {
		t.Fatalf("a 33-column primary key: %s", got)
	}
	if got := f.run(t, s, "SET max_index_keys = 64"); !strings.Contains(got, "cannot be changed") {
		t.Fatalf("SET max_index_keys: %s", got)
	}
}
