// Package security holds Cairn's security primitives: certificates and TLS
// configuration, SCRAM-SHA-256 password verifiers, and the privilege check
// every front door uses (Authorize).
package security

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SCRAMIterations is the PBKDF2 iteration count of new verifiers, the
// same as PostgreSQL's default (scram_iterations).
const SCRAMIterations = 4096

// Verifier is a stored SCRAM-SHA-256 secret: enough to check a client's
// proof, never enough to recover the password.
type Verifier struct {
	Iterations int
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
}

// String is PostgreSQL's text form of a verifier, as pg_authid keeps it:
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (base64).
func (v *Verifier) String() string {
	b := base64.StdEncoding
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", v.Iterations,
		b.EncodeToString(v.Salt), b.EncodeToString(v.StoredKey), b.EncodeToString(v.ServerKey))
}

// NewVerifier derives a verifier from a password with a fresh random salt.
func NewVerifier(password string) (*Verifier, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	return deriveVerifier(password, salt, SCRAMIterations)
}

func deriveVerifier(password string, salt []byte, iter int) (*Verifier, error) {
	salted, err := SaltedPassword(password, salt, iter)
	if err != nil {
		return nil, err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	return &Verifier{Iterations: iter, Salt: salt, StoredKey: stored[:], ServerKey: hmacSHA256(salted, "Server Key")}, nil
}

// SaltedPassword is SCRAM's Hi(password, salt, i): PBKDF2-HMAC-SHA-256.
// The password is used as given (PostgreSQL applies SASLprep, which only
// changes non-ASCII input; Cairn accepts only what SASLprep leaves alone).
func SaltedPassword(password string, salt []byte, iter int) ([]byte, error) {
	return pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// IsVerifier reports whether s looks like a SCRAM-SHA-256 verifier rather
// than a password (CREATE ROLE … PASSWORD 'SCRAM-SHA-256$…' stores it as is,
// as PostgreSQL does).
func IsVerifier(s string) bool { return strings.HasPrefix(s, "SCRAM-SHA-256$") }

// ParseVerifier parses the text form written by Verifier.String.
func ParseVerifier(s string) (*Verifier, error) {
	bad := errors.New("malformed SCRAM-SHA-256 verifier")
	rest, ok := strings.CutPrefix(s, "SCRAM-SHA-256$")
	if !ok {
		return nil, bad
	}
	params, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return nil, bad
	}
	iterS, saltS, ok1 := strings.Cut(params, ":")
	storedS, serverS, ok2 := strings.Cut(keys, ":")
	if !ok1 || !ok2 {
		return nil, bad
	}
	iter, err := strconv.Atoi(iterS)
	if err != nil || iter < 1 || iter > 1<<24 {
		return nil, bad
	}
	b := base64.StdEncoding
	salt, e1 := b.DecodeString(saltS)
	stored, e2 := b.DecodeString(storedS)
	server, e3 := b.DecodeString(serverS)
	if e1 != nil || e2 != nil || e3 != nil || len(salt) == 0 || len(stored) != sha256.Size || len(server) != sha256.Size {
		return nil, bad
	}
	return &Verifier{Iterations: iter, Salt: salt, StoredKey: stored, ServerKey: server}, nil
}

// CheckPassword reports whether password matches the verifier (HTTP Basic
// and POST /api/v1/login check a plain password this way). It takes the
// same time whether or not it matches.
func (v *Verifier) CheckPassword(password string) bool {
	d, err := deriveVerifier(password, v.Salt, v.Iterations)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(d.StoredKey, v.StoredKey) == 1
}
