package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// golden is what one invocation produced.
type golden struct {
	Exit   int
	Stdout string
	Stderr string
}

// TestGolden runs every compare/testdata/NAME.args and compares the output
// with NAME.stdout and NAME.stderr. An .args file has one argument per line;
// a first line "# exit N ..." gives the expected status. Paths in the
// arguments are relative to compare/testdata. UPDATE_GOLDEN=1 rewrites the
// expected files (check the diff before committing it).
func TestGolden(t *testing.T) {
	t.Chdir(filepath.Join("..", "..", "testdata"))
	cases, err := filepath.Glob("*.args")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 20 {
		t.Fatalf("found only %d golden cases", len(cases))
	}
	update := os.Getenv("UPDATE_GOLDEN") != ""
	for _, file := range cases {
		name := strings.TrimSuffix(file, ".args")
		t.Run(name, func(t *testing.T) {
			args, wantExit := readArgs(t, file)
			var stdout, stderr bytes.Buffer
			got := golden{Exit: run(&stdout, &stderr, args), Stdout: stdout.String(), Stderr: stderr.String()}
			if update {
				for ext, s := range map[string]string{".stdout": got.Stdout, ".stderr": got.Stderr} {
					if err := os.WriteFile(name+ext, []byte(s), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			want := golden{Exit: wantExit, Stdout: readFile(t, name+".stdout"), Stderr: readFile(t, name+".stderr")}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("compare-bench %s (-want +got):\n%s", strings.Join(args, " "), d)
			}
		})
	}
}

func readArgs(t *testing.T, file string) ([]string, int) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(readFile(t, file), "\n"), "\n")
	exit := -1
	if f := strings.Fields(lines[0]); len(f) >= 3 && f[0] == "#" && f[1] == "exit" {
		n, err := strconv.Atoi(strings.TrimSuffix(f[2], ":"))
		if err != nil {
			t.Fatalf("%s: bad exit line %q", file, lines[0])
		}
		exit = n
		lines = lines[1:]
	}
	if exit < 0 {
		t.Fatalf("%s: first line must be \"# exit N\"", file)
	}
	return lines, exit
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
