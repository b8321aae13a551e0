package catalog

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestDiskPrintsNoSecret(t *testing.T) {
	const secret = "wJalrXUtnFEMI-K7MDENG"
	d := &Disk{Name: "b", Type: DiskS3, Endpoint: "h:9000", Bucket: "bkt", AccessKeyID: "AKIA1", SecretAccessKey: secret, Prefix: "p", TLS: true}
	var buf bytes.Buffer
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		fmt.Fprintf(&buf, f+"\n", d)
		fmt.Fprintf(&buf, f+"\n", *d)
		fmt.Fprintf(&buf, f+"\n", []*Disk{d})
		fmt.Fprintf(&buf, f+"\n", map[string]*Disk{"b": d})
	}
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("disk", "d", d, "v", *d)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("disk", "d", d, "v", *d)
	if strings.Contains(buf.String(), secret) {
		t.Fatalf("a disk printed its secret:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "https://h:9000/bkt") || !strings.Contains(buf.String(), `"access_key_id":"AKIA1"`) {
		t.Fatalf("a disk printed too little:\n%s", buf.String())
	}
}
