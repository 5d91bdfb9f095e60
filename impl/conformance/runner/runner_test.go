package runner

import (
	"slices"
	"testing"

	"github.com/bun13/bun13/impl/conformance/cases"
)

func TestSplitCommand(t *testing.T) {
	for in, want := range map[string][]string{
		"bun13":                           {"bun13"},
		"  python3   impl.py  ":           {"python3", "impl.py"},
		`node 'my impl.js' --x`:           {"node", "my impl.js", "--x"},
		`sh -c "exec \"$0\" \\\"" a`:      {"sh", "-c", `exec "$0" \"`, "a"},
		`a\ b c`:                          {"a b", "c"},
		`''`:                              {""},
		`wrongimpl -defect rows-offset`:   {"wrongimpl", "-defect", "rows-offset"},
		`x"y"'z'`:                         {"xyz"},
		"tab\tseparated\nand newline too": {"tab", "separated", "and", "newline", "too"},
	} {
		got, err := SplitCommand(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "   ", "'open", `"open`} {
		if _, err := SplitCommand(bad); err == nil {
			t.Errorf("SplitCommand(%q): no error", bad)
		}
	}
}

func TestParseErrorLine(t *testing.T) {
	for line, want := range map[string]Got{
		"error: terminal-size at offset 15 (0x0f) (cols is 0)":     {Code: "terminal-size", Offset: 15},
		"error: terminal-size (offset 0x0f)":                       {Code: "terminal-size", Offset: 15},
		"error: package: offset=64":                                {Code: "package", Offset: 64},
		"error: bad-magic":                                         {Code: "bad-magic", Offset: cases.NoOffset},
		"error: header-format: X-Bun-Registry-Hash (\"0x3B\")":     {Code: "header-format", Name: "X-Bun-Registry-Hash", Offset: cases.NoOffset},
		"error: header-missing: x-bun-terminal":                    {Code: "header-missing", Name: "x-bun-terminal", Offset: cases.NoOffset},
		"Error: bad-magic":                                         {Offset: cases.NoOffset},
		"warning: x\nerror: bad-magic":                             {Offset: cases.NoOffset},
		"error: reserved, the offsetting byte is at offset 29 now": {Code: "reserved", Offset: 29},
	} {
		area := cases.LockfileDecode
		if want.Name != "" {
			area = cases.HeadersValidate
		}
		g := Parse(area, Result{Exit: 1, Stderr: []byte(line + "\n")})
		if g.Code != want.Code || g.Name != want.Name || g.Offset != want.Offset {
			t.Errorf("%q: code %q name %q offset %d; want %q %q %d", line, g.Code, g.Name, g.Offset, want.Code, want.Name, want.Offset)
		}
	}
}

func TestCompare(t *testing.T) {
	lf := &cases.Case{Area: cases.LockfileDecode, Want: cases.Want{Exit: 1, Code: "terminal-size", Offset: 15}}
	hd := &cases.Case{Area: cases.HeadersValidate, Want: cases.Want{Exit: 1, Code: "header-format", Name: "X-Bun-Terminal", Offset: cases.NoOffset}}
	fr := &cases.Case{Area: cases.FrameDecode, Want: cases.Want{Exit: 0, JSON: []byte(`{"type":"set","offset":13,"value":2}`)}}
	vd := &cases.Case{Area: cases.ConfigValidate, Want: cases.Want{Exit: 0, JSON: []byte(`{"valid":true}`)}}
	un := &cases.Case{Area: cases.LockfileEncode, Unsorted: true, Want: cases.Want{Exit: 0, Output: []byte("BUN1")}}
	for _, tc := range []struct {
		c      *cases.Case
		stdout string
		stderr string
		exit   int
		agree  bool
	}{
		{lf, "", "error: terminal-size at offset 15 (0x0f)", 1, true},
		{lf, "", "error: terminal-size", 1, true},
		{lf, "", "error: terminal-size at offset 14", 1, false},
		{lf, "", "error: terminal-mode at offset 15", 1, false},
		{lf, "", "error: terminal-size at offset 15", 2, false},
		{lf, "", "terminal-size at offset 15", 1, false},
		{hd, "", "error: header-format: x-bun-TERMINAL", 1, true},
		{hd, "", "error: header-format: X-Bun-Config-Version", 1, false},
		{hd, "", "error: header-format", 1, false},
		{fr, `{"offset": 13.0, "value": 2e0, "type": "set"}`, "", 0, true},
		{fr, `{"type":"set","offset":13,"value":3}`, "", 0, false},
		{fr, `{"type":"set","offset":13,"value":2} {}`, "", 0, false},
		{fr, `type set offset 13 value 2`, "", 0, false},
		{vd, `{"valid":true,"error":null,"offset":null}`, "", 0, true},
		{vd, `{"valid":true,"error":"x"}`, "", 0, false},
		{un, "", "error: package: unsorted input", 1, true},
		{un, "", "refused", 1, false},
	} {
		got := Parse(tc.c.Area, Result{Exit: tc.exit, Stdout: []byte(tc.stdout), Stderr: []byte(tc.stderr)})
		if ok, why := Compare(tc.c, got); ok != tc.agree {
			t.Errorf("%s %q %q exit %d: agree %v (%s), want %v", tc.c.Area, tc.stdout, tc.stderr, tc.exit, ok, why, tc.agree)
		}
	}
}

func TestDescribe(t *testing.T) {
	b := cases.MustEncode(cases.Base3())
	l := cases.LayoutOf(b)
	for off, want := range map[int]string{
		0x0E:                "header rows",
		0x1A:                "header packageCount",
		0x1D:                "header reserved bytes",
		0x3F:                "header body CRC64",
		cases.Rec(1) + 0x23: "record 1 +0x23 (depsFirst)",
		cases.Rec(2) + 0x2C: "record 2 +0x2c (reserved)",
		l.DepOff + 5:        "dependency table entry 0",
		l.StrOff:            "strBytes",
		l.StrStart + 3:      "string table byte 3",
		len(b):              "past the end of the expected file",
	} {
		if got := Describe(b, off); got != want {
			t.Errorf("Describe(0x%x) = %q, want %q", off, got, want)
		}
	}
}
