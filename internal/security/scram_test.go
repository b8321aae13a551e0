package security

import "testing"

func TestVerifierRoundTrip(t *testing.T) {
	v, err := NewVerifier("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	s := v.String()
	if !IsVerifier(s) {
		t.Fatalf("IsVerifier(%q) = false", s)
	}
	p, err := ParseVerifier(s)
	if err != nil {
		t.Fatal(err)
	}
	if p.String() != s {
		t.Fatalf("round trip: %q != %q", p.String(), s)
	}
	if !p.CheckPassword("s3cret") || p.CheckPassword("s3cret ") || p.CheckPassword("") {
		t.Fatal("CheckPassword accepts the wrong password or refuses the right one")
	}
}

// A verifier made by PostgreSQL 15 (CREATE ROLE sectest PASSWORD 'pencil';
// SELECT rolpassword FROM pg_authid) checks the same password here.
func TestVerifierFromPostgres(t *testing.T) {
	const pg = "SCRAM-SHA-256$4096:Pip0vEbqU1IJlOVBuqlEVg==$RQ6ndT3qQCvBHWKFgnJzxYF1akvvbx0HZi7rbqbFDVU=:+OVqnhWm5zmr5PFx+YFVOle8jKtezJSvAiU7GEUk51U="
	p, err := ParseVerifier(pg)
	if err != nil {
		t.Fatal(err)
	}
	if !p.CheckPassword("pencil") || p.CheckPassword("Pencil") {
		t.Fatal("PostgreSQL's verifier does not check its password here")
	}
	if p.String() != pg {
		t.Fatalf("String() = %q, want PostgreSQL's form", p.String())
	}
	for _, bad := range []string{"", "md5abc", "SCRAM-SHA-256$x:AA==$AA==:AA==", "SCRAM-SHA-256$4096:AA==$AA==", "SCRAM-SHA-256$4096:!!$AA==:AA=="} {
		if _, err := ParseVerifier(bad); err == nil {
			t.Errorf("ParseVerifier(%q) accepted", bad)
		}
	}
}
