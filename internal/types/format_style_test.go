package types

import (
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, ok := LoadZone(name)
	if !ok {
		t.Fatalf("zone %s not found", name)
	}
	return loc
}

// TestAppendTextStyle checks output in each style against PostgreSQL's
// (its documentation's tables 8.14, 8.15 and 8.18, and psql sessions).
func TestAppendTextStyle(t *testing.T) {
	la := mustZone(t, "America/Los_Angeles")
	ts, err := ParseText(TimestampTZ, "1997-12-17 07:37:16.5-08")
	if err != nil {
		t.Fatal(err)
	}
	date, _ := ParseText(Date, "1997-12-17")
	tenth, fifth := 0.1, 0.2
	point3 := tenth + fifth // 0.30000000000000004, not the constant 0.3
	local := Datum{T: Timestamp, I: ts.I - 8*3600*microsPerSecond}
	for _, c := range []struct {
		st   Style
		d    Datum
		want string
	}{
		{Style{Loc: la}, ts, "1997-12-17 07:37:16.5-08"},
		{Style{Loc: la, Date: DateSQL}, ts, "12/17/1997 07:37:16.5 PST"},
		{Style{Loc: la, Date: DateSQL, Order: OrderDMY}, ts, "17/12/1997 07:37:16.5 PST"},
		{Style{Loc: la, Date: DatePostgres}, ts, "Wed Dec 17 07:37:16.5 1997 PST"},
		{Style{Loc: la, Date: DatePostgres, Order: OrderDMY}, ts, "Wed 17 Dec 07:37:16.5 1997 PST"},
		{Style{Loc: la, Date: DateGerman, Order: OrderDMY}, ts, "17.12.1997 07:37:16.5 PST"},
		{Style{Date: DateSQL}, local, "12/17/1997 07:37:16.5"},
		{Style{Date: DatePostgres}, local, "Wed Dec 17 07:37:16.5 1997"},
		{Style{Date: DateSQL, Order: OrderDMY}, date, "17/12/1997"},
		{Style{Date: DateSQL}, date, "12/17/1997"},
		{Style{Date: DatePostgres}, date, "12-17-1997"},
		{Style{Date: DateGerman}, date, "17.12.1997"},
		{Style{Date: DateSQL}, Datum{T: Date, I: DaysFromCivil(-43, 3, 15)}, "03/15/0044 BC"},
		{Style{Loc: mustZone(t, "Asia/Kolkata")}, ts, "1997-12-17 21:07:16.5+05:30"},
		{Style{Loc: mustZone(t, "America/St_Johns")}, ts, "1997-12-17 12:07:16.5-03:30"},
		{Style{Loc: mustZone(t, "Europe/Amsterdam")}, Datum{T: TimestampTZ, I: -2208988800 * microsPerSecond}, "1900-01-01 00:19:32+00:19:32"},
		{Style{Loc: la, Date: DateSQL}, Datum{T: TimestampTZ, I: TimestampInfinity}, "infinity"},
		{Style{Interval: IntervalSQLStandard}, Datum{T: Interval, Iv: IntervalValue{Months: 14}}, "1-2"},
		{Style{Interval: IntervalSQLStandard}, Datum{T: Interval, Iv: IntervalValue{Days: 3, Micros: 4*microsPerHour + 5*microsPerMinute + 6*microsPerSecond}}, "3 4:05:06"},
		{Style{Interval: IntervalSQLStandard}, Datum{T: Interval, Iv: IntervalValue{Months: -14, Days: 3, Micros: -(4*microsPerHour + 5*microsPerMinute + 6*microsPerSecond)}}, "-1-2 +3 -4:05:06"},
		{Style{Interval: IntervalSQLStandard}, Datum{T: Interval, Iv: IntervalValue{Micros: -1500000}}, "-0:00:01.5"},
		{Style{Interval: IntervalPostgresVerbose}, Datum{T: Interval, Iv: IntervalValue{Months: -14, Days: 3, Micros: -(4*microsPerHour + 5*microsPerMinute + 6*microsPerSecond)}}, "@ 1 year 2 mons -3 days 4 hours 5 mins 6 secs ago"},
		{Style{Interval: IntervalPostgresVerbose}, Datum{T: Interval, Iv: IntervalValue{Micros: microsPerSecond}}, "@ 1 sec"},
		{Style{Interval: IntervalPostgresVerbose}, Datum{T: Interval}, "@ 0"},
		{Style{Interval: IntervalISO8601}, Datum{T: Interval, Iv: IntervalValue{Months: -14, Days: 3, Micros: -(4*microsPerHour + 5*microsPerMinute + 6*microsPerSecond)}}, "P-1Y-2M3DT-4H-5M-6S"},
		{Style{Interval: IntervalISO8601}, Datum{T: Interval, Iv: IntervalValue{Micros: 1500000}}, "PT1.5S"},
		{Style{FloatDigits: 1}, Datum{T: Float8, F: point3}, "0.30000000000000004"},
		{Style{FloatDigits: 0}, Datum{T: Float8, F: point3}, "0.3"},
		{Style{FloatDigits: 0}, Datum{T: Float4, F: float64(float32(1) / 3)}, "0.333333"},
		{Style{FloatDigits: -15}, Datum{T: Float8, F: 123.456}, "1e+02"},
		{Style{FloatDigits: 0}, Datum{T: Float8, F: 1e20}, "1e+20"},
	} {
		if got := string(AppendTextStyle(nil, c.d, &c.st)); got != c.want {
			t.Errorf("%+v %v: got %q, want %q", c.st, c.d.T, got, c.want)
		}
	}
	// A nil style is AppendText.
	if got := string(AppendTextStyle(nil, ts, nil)); got != "1997-12-17 15:37:16.5+00" {
		t.Errorf("nil style: %q", got)
	}
}

func TestParseTextStyle(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	for _, c := range []struct {
		st   *Style
		t    T
		in   string
		want string // printed in UTC, ISO
	}{
		{nil, Date, "01/02/2024", "2024-01-02"},
		{&Style{Order: OrderDMY}, Date, "01/02/2024", "2024-02-01"},
		{&Style{Order: OrderDMY}, Date, "17.12.1997", "1997-12-17"},
		{&Style{Order: OrderYMD}, Date, "97/12/17", "1997-12-17"},
		{&Style{Order: OrderDMY}, Date, "2024-01-02", "2024-01-02"},
		{&Style{Order: OrderMDY}, Date, "12-17-69", "2069-12-17"},
		{&Style{Order: OrderMDY}, Date, "12/17/70", "1970-12-17"},
		{&Style{Order: OrderMDY}, Date, "1/2/3", "2003-01-02"},
		{&Style{Loc: berlin}, TimestampTZ, "2024-01-15 13:00", "2024-01-15 12:00:00+00"},
		{&Style{Loc: berlin}, TimestampTZ, "2024-07-15 14:00", "2024-07-15 12:00:00+00"},
		{&Style{Loc: berlin}, TimestampTZ, "2024-07-15 14:00+00", "2024-07-15 14:00:00+00"},
		{&Style{Loc: berlin}, Timestamp, "2024-07-15 14:00+05", "2024-07-15 14:00:00"},
		{nil, TimestampTZ, "2024-07-15 14:00 Asia/Kolkata", "2024-07-15 08:30:00+00"},
		{&Style{Loc: berlin}, TimestampTZ, "epoch", "1970-01-01 00:00:00+00"},
		// Abbreviations, as the SQL/German styles print them: the session
		// zone's, or a zone of that name.
		{&Style{Loc: berlin, Order: OrderDMY}, TimestampTZ, "15/07/2024 14:00:00 CEST", "2024-07-15 12:00:00+00"},
		{&Style{Loc: berlin, Order: OrderDMY}, TimestampTZ, "15.01.2024 13:00:00 CET", "2024-01-15 12:00:00+00"},
		{nil, TimestampTZ, "2024-01-15 07:00:00 EST", "2024-01-15 12:00:00+00"},
		{nil, TimestampTZ, "2024-01-15 07:00:00 BC", "2024-01-15 07:00:00+00 BC"},
		// The spring-forward gap in Berlin (02:00-03:00 on 2024-03-31) and
		// the autumn overlap (02:00-03:00 twice on 2024-10-27).
		{&Style{Loc: berlin}, TimestampTZ, "2024-03-31 02:30", "2024-03-31 01:30:00+00"},
		{&Style{Loc: berlin}, TimestampTZ, "2024-10-27 02:30", "2024-10-27 01:30:00+00"},
		{&Style{Loc: berlin}, TimestampTZ, "2024-10-27 01:30", "2024-10-26 23:30:00+00"},
		{&Style{Loc: berlin}, TimestampTZ, "2024-10-27 03:30", "2024-10-27 02:30:00+00"},
		// PostgreSQL's own examples (appendix B.2), in New York.
		{&Style{Loc: mustZone(t, "America/New_York")}, TimestampTZ, "2018-03-11 02:30", "2018-03-11 07:30:00+00"},
		{&Style{Loc: mustZone(t, "America/New_York")}, TimestampTZ, "2018-11-04 01:30", "2018-11-04 06:30:00+00"},
		{&Style{Loc: mustZone(t, "America/New_York")}, TimestampTZ, "2018-11-04 00:30", "2018-11-04 04:30:00+00"},
	} {
		d, err := ParseTextStyle(c.t, c.in, c.st)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := string(AppendText(nil, d)); got != c.want {
			t.Errorf("%q as %v: got %s, want %s", c.in, c.t, got, c.want)
		}
	}
	for _, bad := range []string{"13/13/2024", "2024-01-02 10:00 Mars/Olympus", "1/2", "2024-01-02 10:00 XYZ"} {
		if _, err := ParseTextStyle(TimestampTZ, bad, &Style{Order: OrderDMY}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestIntervalSQLInput(t *testing.T) {
	for in, want := range map[string]string{
		"1-2":              "1 year 2 mons",
		"-1-2":             "-1 years -2 mons",
		"3 4:05:06":        "3 days 04:05:06",
		"-1-2 +3 -4:05:06": "-1 years -2 mons +3 days -04:05:06",
		"90":               "00:01:30",
	} {
		d, err := ParseText(Interval, in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := string(AppendText(nil, d)); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// FuzzParseTextStyle: any input, in any style, parses or fails cleanly,
// and what parses prints in that style without panicking.
func FuzzParseTextStyle(f *testing.F) {
	for _, s := range []string{"2024-01-02 10:00", "01/02/2024", "17.12.1997 07:37:16 CET", "1-2", "3 4:05:06",
		"2024-10-27 02:30 Europe/Berlin", "294276-12-31 23:59:59", "4713-01-01 BC", "epoch", "infinity", "1/2/3 PST"} {
		f.Add(s, uint8(0))
	}
	berlin, _ := LoadZone("Europe/Berlin")
	f.Fuzz(func(t *testing.T, s string, k uint8) {
		st := &Style{Date: DateStyle(k % 4), Order: DateOrder(k / 4 % 3), Interval: IntervalStyle(k / 12 % 4), FloatDigits: int(k%19) - 15}
		if k%2 == 0 {
			st.Loc = berlin
		}
		for _, ty := range []T{Date, Timestamp, TimestampTZ, Interval} {
			if d, err := ParseTextStyle(ty, s, st); err == nil {
				_ = AppendTextStyle(nil, d, st)
			}
		}
	})
}
