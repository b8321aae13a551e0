package bench

// W1-join: W1's events and view, the view enriched by a 10,000-row device
// table (issue 11): the same per-device counts, but every event is looked
// up in the table by primary key before it is folded. Every generated
// device (and the probe device) has a row, so the counts, the probe and
// the exactly-once check are W1's.
const w1DeviceTable = "w1_devices"

var w1JoinSetup = []string{
	"DROP MATERIALIZED VIEW IF EXISTS " + w1View,
	"DROP STREAM IF EXISTS " + w1Stream + " CASCADE",
	"DROP TABLE IF EXISTS " + w1DeviceTable,
	"CREATE TABLE " + w1DeviceTable + " (id int PRIMARY KEY, site text)",
	"INSERT INTO " + w1DeviceTable + " SELECT g, 'site-' || (g % 20) FROM generate_series(-1, 9999) AS g",
	"CREATE STREAM " + w1Stream + " (ts timestamptz, device_id int, region text, value float8)",
	"CREATE MATERIALIZED VIEW " + w1View + " AS SELECT e.device_id, count(*) AS n, " +
		"sum(e.value) AS total, max(e.value) AS peak FROM " + w1Stream + " e JOIN " + w1DeviceTable +
		" d ON e.device_id = d.id GROUP BY e.device_id",
}
