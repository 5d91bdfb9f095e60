// Package s3temp gives a test a key prefix of its own in the bucket of
// the S3 server that .ci/services starts ($BUN13_TEST_S3), so it starts
// with no blobs and sees no other test's.
package s3temp

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/bun13/bun13/impl/testenv"
)

// Env is the variable naming the bucket URL; Install says how to get one.
const (
	Env     = "BUN13_TEST_S3"
	Install = "source .ci/services (or .ci/services -- go test ...)"
)

// URL returns $BUN13_TEST_S3, or skips t (fails it under CI) when it is
// unset.
func URL(t testing.TB) string {
	t.Helper()
	return testenv.Getenv(t, Env, "an S3 server", Install)
}

// New returns $BUN13_TEST_S3 with the key prefix NAME-RANDOM/ (a
// blobs.OpenURL URL), or skips t as URL does.
func New(t testing.TB, name string) string {
	t.Helper()
	return WithPrefix(t, URL(t), name)
}

// WithPrefix returns base with the key prefix NAME-RANDOM/.
func WithPrefix(t testing.TB, base, name string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	q := u.Query()
	q.Set("prefix", name+"-"+hex.EncodeToString(r[:])+"/")
	u.RawQuery = q.Encode()
	return u.String()
}
