package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMissing runs a child test binary that asks for a tool that does not
// exist, once strict and once not, and checks it fails or skips.
func TestMissing(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		LookPath(t, "no-such-tool-bun13", "nothing installs it")
		t.Fatal("LookPath returned for a missing tool")
	}
	for _, c := range []struct {
		strict   string
		wantFail bool
	}{{"0", false}, {"1", true}} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "CI=", "BUN13_NO_SKIP="+c.strict)
		out, err := cmd.CombinedOutput()
		failed := err != nil
		if failed != c.wantFail {
			t.Errorf("BUN13_NO_SKIP=%s: failed=%v, want %v\n%s", c.strict, failed, c.wantFail, out)
		}
		if !strings.Contains(string(out), "needs no-such-tool-bun13") || !strings.Contains(string(out), "nothing installs it") {
			t.Errorf("BUN13_NO_SKIP=%s: message does not name the tool and its install:\n%s", c.strict, out)
		}
		if !c.wantFail && !strings.Contains(string(out), "--- SKIP") {
			t.Errorf("not strict: want a skip\n%s", out)
		}
	}
}

func TestLookPathFound(t *testing.T) {
	if p := LookPath(t, "go", "the Go toolchain"); p == "" {
		t.Fatal("empty path for go")
	}
}
