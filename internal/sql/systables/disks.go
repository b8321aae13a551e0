package systables

import (
	"strings"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/types"
)

// DisksTable is the name of cairn_cluster.disks (SHOW DISKS).
const DisksTable = "disks"

// Disks is cairn_cluster.disks: every disk (CREATE DISK) and what uses
// it. It has no column for the secret access key: the table is built
// from each disk's Redacted copy, and nothing here reads the secret.
// Options that do not apply to a disk's type are NULL; tls is NULL for
// a file disk.
func Disks(cat *catalog.Catalog) *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "name", T: types.Text}, {Name: "type", T: types.Text},
		{Name: "endpoint", T: types.Text}, {Name: "bucket", T: types.Text}, {Name: "region", T: types.Text},
		{Name: "prefix", T: types.Text}, {Name: "path", T: types.Text}, {Name: "access_key_id", T: types.Text},
		{Name: "tls", T: types.Bool}, {Name: "used_by", T: types.Text}, {Name: "owner", T: types.Text},
		{Name: "created_at", T: types.TimestampTZ}}}
	opt := func(s string) types.Datum {
		if s == "" {
			return types.NullOf(types.Text)
		}
		return txt(s)
	}
	for _, d := range cat.SortedDisks() {
		d = d.Redacted()
		tls := types.NullOf(types.Bool)
		if d.Type == catalog.DiskS3 {
			tls = types.NewBool(d.TLS)
		}
		t.Rows = append(t.Rows, []types.Datum{txt(d.Name), txt(d.Type), opt(d.Endpoint), opt(d.Bucket), opt(d.Region),
			opt(d.Prefix), opt(d.Path), opt(d.AccessKeyID), tls, txt(strings.Join(cat.DiskUsers(d.Name), ", ")),
			opt(d.Owner), types.NewInt(types.TimestampTZ, d.CreatedAt)})
	}
	return t
}
