package scalar

import (
	"math/big"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/cairndb/cairn/internal/types"
)

func randDec(r *rand.Rand) string {
	var sb strings.Builder
	if r.Intn(2) == 0 {
		sb.WriteByte('-')
	}
	for i, n := 0, 1+r.Intn(30); i < n; i++ {
		sb.WriteByte(byte('0' + r.Intn(10)))
	}
	sb.WriteString("e" + strconv.Itoa(r.Intn(30)-20))
	v, err := types.ParseNumeric(sb.String())
	if err != nil {
		panic(err)
	}
	return v
}

func rat(t *testing.T, s string) *big.Rat {
	t.Helper()
	q, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("big.Rat cannot read %q", s)
	}
	return q
}

// TestNumericArithmeticExact: + - * are exact with PostgreSQL's scales
// (max and sum of the inputs'), and / is the exact quotient rounded half
// away from zero at select_div_scale's scale, checked against big.Rat.
func TestNumericArithmeticExact(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	scale := func(s string) int {
		if i := strings.IndexByte(s, '.'); i >= 0 {
			return len(s) - i - 1
		}
		return 0
	}
	for i := 0; i < 3000; i++ {
		a, b := randDec(r), randDec(r)
		var x, y apd.Decimal
		if types.NumericDecimal(a, &x) != nil || types.NumericDecimal(b, &y) != nil {
			t.Fatal("bad input")
		}
		for _, op := range []byte{'+', '-', '*', '/'} {
			var z apd.Decimal
			err := numericOp(op, &x, &y, &z)
			if op == '/' && y.IsZero() {
				if err == nil {
					t.Fatalf("%s / %s: no division by zero error", a, b)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s %c %s: %v", a, op, b, err)
			}
			got, err := types.NumericText(&z)
			if err != nil {
				t.Fatal(err)
			}
			ra, rb := rat(t, a), rat(t, b)
			var want *big.Rat
			var wantScale int
			switch op {
			case '+':
				want, wantScale = new(big.Rat).Add(ra, rb), max(scale(a), scale(b))
			case '-':
				want, wantScale = new(big.Rat).Sub(ra, rb), max(scale(a), scale(b))
			case '*':
				want, wantScale = new(big.Rat).Mul(ra, rb), scale(a)+scale(b)
			case '/':
				wantScale = divScale(&x, &y)
				q := new(big.Rat).Quo(ra, rb)
				// Round half away from zero at wantScale digits.
				p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(wantScale)), nil))
				q.Mul(q, p)
				n, rem := new(big.Int).QuoRem(q.Num(), q.Denom(), new(big.Int))
				if new(big.Int).Mul(new(big.Int).Abs(rem), big.NewInt(2)).Cmp(q.Denom()) >= 0 {
					n.Add(n, big.NewInt(int64(q.Sign())))
				}
				want = new(big.Rat).Quo(new(big.Rat).SetInt(n), p)
			}
			if rat(t, got).Cmp(want) != 0 || scale(got) != wantScale {
				t.Fatalf("%s %c %s = %s, want %s at scale %d", a, op, b, got, want.FloatString(wantScale), wantScale)
			}
		}
	}
}
