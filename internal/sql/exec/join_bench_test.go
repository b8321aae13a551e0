package exec

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// BenchmarkHashJoin joins a 1,000,000-row source with a 10,000-row one on
// an integer key and counts the matches (every big row matches one small
// row).
func BenchmarkHashJoin(b *testing.B) {
	big := &memSource{cols: []Column{{Name: "id", T: types.Int8}, {Name: "k", T: types.Int4}, {Name: "v", T: types.Float8}}, batchSize: 1024}
	for i := 0; i < 1_000_000; i++ {
		big.rows = append(big.rows, []types.Datum{i8(int64(i)), ival(int64(i % 10_000)), f8(float64(i))})
	}
	small := &memSource{cols: []Column{{Name: "k", T: types.Int4}, {Name: "name", T: types.Text}}, batchSize: 1024}
	for i := 0; i < 10_000; i++ {
		small.rows = append(small.rows, []types.Datum{ival(int64(i)), txt("name")})
	}
	stmts, _, err := parser.Parse("SELECT count(*), sum(b.v) FROM big AS b JOIN small AS s ON b.k = s.k")
	if err != nil {
		b.Fatal(err)
	}
	p, err := PlanSelect(stmts[0].(*parser.Select), resolver(map[string]Source{"big": big, "small": small}), nil)
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var n int64
		err := p.Run(context.Background(), &Ctx{}, func(row []types.Datum) error {
			n = row[0].I
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if n != 1_000_000 {
			b.Fatalf("count %d, want 1000000", n)
		}
	}
	b.StopTimer()
	// On a shared machine wall time includes waiting for a CPU; the
	// process's CPU time per join is the steadier number.
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
