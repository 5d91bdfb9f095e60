// Package testenv is how a test asks for an outside tool or server.
//
// Run by hand without the tool, the test is skipped with a message naming
// the tool and the one command that installs it; the README's test command
// (gotestsum) lists every skipped test and its message at the end of the
// run. Where the run must not skip (CI=true, as .ci/run runs, or
// BUN13_NO_SKIP=1), a missing tool fails the test instead: CI never skips.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Strict reports whether a missing tool fails the test instead of skipping
// it: CI=true or BUN13_NO_SKIP=1 in the environment.
func Strict() bool {
	return os.Getenv("CI") == "true" || os.Getenv("BUN13_NO_SKIP") == "1"
}

// Missing skips t, or fails it where skipping is not allowed, saying what
// is missing and how to get it. what names the tool or server ("tmux",
// "PostgreSQL"); install is the command that provides it ("apt-get install
// -y tmux", "bash .ci/run starts it").
func Missing(t testing.TB, what, install string) {
	t.Helper()
	if Strict() {
		t.Fatalf("needs %s, which is missing, and this run may not skip (CI=true or BUN13_NO_SKIP=1); install: %s", what, install)
	}
	t.Skipf("needs %s (install: %s)", what, install)
}

// LookPath returns the path of the executable name, or calls Missing.
func LookPath(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, install)
	}
	return p
}

// Getenv returns the environment variable key, which names a server a
// test needs (BUN13_TEST_POSTGRES, say), or calls Missing when it is unset.
func Getenv(t testing.TB, key, what, install string) string {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		Missing(t, what+" ($"+key+")", install)
	}
	return v
}
