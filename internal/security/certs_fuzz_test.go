package security

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseCertsPEM feeds arbitrary bytes to the parsers of what LoadCerts
// reads (certificate files and keys): they return an error, never panic,
// and what parses is a certificate with a subject.
func FuzzParseCertsPEM(f *testing.F) {
	dir := f.TempDir()
	if err := CreateCA(dir, CreateOptions{}); err != nil {
		f.Fatal(err)
	}
	if err := CreateClient(dir, "cairn", CreateOptions{}); err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{CACertFile, CAKeyFile, ClientCertFile("cairn"), ClientKeyFile("cairn")} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertsPEM(data)
		if err == nil {
			if len(certs) == 0 {
				t.Fatal("no error and no certificate")
			}
			for _, c := range certs {
				_ = certHosts(c)
				_ = c.Subject.CommonName
			}
		}
		if k, err := ParseKeyPEM(data); err == nil && k.Public() == nil {
			t.Fatal("a key without a public half")
		}
	})
}
