package main

import (
	"os"
	"strings"
	"testing"
)

func TestMutate(t *testing.T) {
	src := "package p\n\nconst n = -1\n\nfunc f(a, b int) bool {\n\tswitch {\n\tcase a >= b:\n\t\treturn a+b == 0\n\t}\n\ta++\n\treturn a != b\n}\n"
	cases := []struct {
		line, col int
		typ, want string
	}{
		{3, 11, "INVERT_NEGATIVES", "const n = +1"},
		{3, 11, "ARITHMETIC_BASE", "const n = +1"},
		{7, 9, "CONDITIONALS_BOUNDARY", "case a > b:"},
		{7, 9, "CONDITIONALS_NEGATION", "case a < b:"},
		{8, 11, "ARITHMETIC_BASE", "return a-b == 0"},
		{8, 14, "CONDITIONALS_NEGATION", "return a+b != 0"},
		{10, 3, "INCREMENT_DECREMENT", "a--"},
		{11, 11, "CONDITIONALS_NEGATION", "return a == b"},
	}
	for _, c := range cases {
		got, err := Mutate([]byte(src), c.line, c.col, c.typ)
		if err != nil {
			t.Errorf("%d:%d %s: %v", c.line, c.col, c.typ, err)
			continue
		}
		lines := strings.Split(string(got), "\n")
		if strings.TrimLeft(lines[c.line-1], "\t") != c.want {
			t.Errorf("%d:%d %s: line is %q, want %q", c.line, c.col, c.typ, lines[c.line-1], c.want)
		}
		if strings.Count(string(got), "\n") != strings.Count(src, "\n") {
			t.Errorf("%d:%d %s: line count changed", c.line, c.col, c.typ)
		}
	}
	for _, bad := range []struct {
		line, col int
		typ       string
	}{
		{3, 10, "INVERT_NEGATIVES"},      // a space, no token starts there
		{7, 9, "ARITHMETIC_BASE"},        // >= is not arithmetic
		{7, 9, "NO_SUCH_MUTATOR"},        // unknown type
		{99, 1, "CONDITIONALS_NEGATION"}, // past the end
	} {
		if _, err := Mutate([]byte(src), bad.line, bad.col, bad.typ); err == nil {
			t.Errorf("%d:%d %s: no error", bad.line, bad.col, bad.typ)
		}
	}
}

func TestEquivalents(t *testing.T) {
	md := "# x\n\n<!-- equivalent-mutants:begin -->\n| file | line | mutator | col | code | reason |\n|---|---|---|---|---|---|\n" +
		"| `impl/p/a.go` | 7 | CONDITIONALS_BOUNDARY | 9 | `if a < 0 \\|\\| b {` | a is never 0 here |\n" +
		"<!-- equivalent-mutants:end -->\n| `impl/p/a.go` | 1 | X | 0 | `ignored` | outside |\n"
	path := t.TempDir() + "/README.md"
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		t.Fatal(err)
	}
	eq, err := readEquivalents(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(eq) != 1 {
		t.Fatalf("got %d entries: %v", len(eq), eq)
	}
	lines := []string{"", "", "", "", "", "", "\t\tif a < 0 || b {"}
	key := mutantKey("impl/p/a.go", Mutation{Type: "CONDITIONALS_BOUNDARY", Line: 7, Column: 3 + 9}, lines)
	if eq[key] != "a is never 0 here" {
		t.Fatalf("key %q not found in %v", key, eq)
	}
	if other := mutantKey("impl/p/a.go", Mutation{Type: "CONDITIONALS_NEGATION", Line: 7, Column: 12}, lines); eq[other] != "" {
		t.Fatalf("another mutator matched: %q", other)
	}
}
