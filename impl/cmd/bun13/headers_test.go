package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/headers"
)

// seedHeaders is fixtures/headers.json's seed-config as 'Name: value'
// arguments, in the SPEC's table order.
func seedHeaders(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../../fixtures/headers.json")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]map[string]string
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, n := range headers.Names {
		args = append(args, n+": "+v["seed-config"][n])
	}
	return args
}

func TestHeadersCLI(t *testing.T) {
	seed := seedHeaders(t)
	val := func(code int, args ...string) cliStep {
		return cliStep{code, append([]string{"headers", "validate"}, args...)}
	}
	// replace returns the seed set with header i's argument replaced.
	replace := func(i int, arg string) []string {
		s := slices.Clone(seed)
		s[i] = arg
		return s
	}
	transcriptGolden(t, "headers_cli.golden", []cliStep{
		val(0, seed...),
		val(0, slices.Concat(seed[3:], seed[:3])...), // any order
		val(0, "x-bun-config-version:1", "X-BUN-REGISTRY-HASH:0x3b8b5a5a", "x-bun-feature-flags:\t0x00000003\t",
			"X-Bun-Terminal:cooked;24x80", "X-Bun-Config-Checksum:  0x12cab69b58a0c073  "),
		// Name and value as two arguments, as in the design notes.
		val(0, "X-Bun-Config-Version", "1"),
		val(0, "X-Bun-Config-Version", "1", "X-Bun-Registry-Hash", "0x3b8b5a5a", "X-Bun-Feature-Flags", "0x00000003",
			"X-Bun-Terminal", "cooked;24x80", "X-Bun-Config-Checksum", "0x12cab69b58a0c073"),
		val(0, "X-Bun-Terminal: cooked;24x80", "X-Bun-Config-Version", "1", "X-Bun-Registry-Hash: 0x3b8b5a5a",
			"X-Bun-Feature-Flags", "0x00000003", "X-Bun-Config-Checksum: 0x12cab69b58a0c073"),
		// One header alone: format and range only, flags against version 2.
		val(0, "X-Bun-Feature-Flags: 0x000003ff"),
		val(0, "X-Bun-Config-Checksum: 0x0000000000000000"),
		val(0, "X-Bun-Terminal: raw;255x1"),
		val(1, "X-Bun-Config-Version: 01"),
		val(1, "X-Bun-Config-Version", "-1"),
		val(1, "X-Bun-Config-Version: 300"),
		val(1, "X-Bun-Registry-Hash: 0x00000000"),
		val(1, "X-Bun-Registry-Hash: 0x3B8B5A5A"),
		val(1, "X-Bun-Feature-Flags: 0x00000400"),
		val(1, "X-Bun-Terminal: COOKED;24x80"),
		val(1, "X-Bun-Terminal: cooked;0x80"),
		val(1, "X-Bun-Terminal: cooked;024x80"),
		val(1, "X-Bun-Terminal", "cooked:24x80"),
		val(1, "X-Bun-Config-Checksum: 0x12cab69b58a0c07"),
		val(1, "X-Bun-Config-Version: 1", "x-bun-config-version: 1"),
		// Sets.
		val(1, seed[:4]...),
		val(1, seed[1:]...),
		val(1, "X-Bun-Terminal: cooked;24x80", "X-Bun-Config-Version: 1"),
		val(1, replace(0, "X-Bun-Config-Version: 3")...),
		val(1, replace(0, "X-Bun-Config-Version: 2")...),
		val(1, replace(2, "X-Bun-Feature-Flags: 0x00000100")...),
		val(1, replace(3, "X-Bun-Terminal: cooked;25x80")...),
		val(1, replace(4, "X-Bun-Config-Checksum: 0x12cab69b58a0c072")...),
		val(1, append(slices.Clone(seed), "X-Bun-Terminal: cooked;24x80")...),
		// Usage errors.
		val(2),
		val(2, "X-Bun-Config-Version"),
		val(2, "X-Bun-Config: 1"),
		val(2, ": 1"),
		{2, []string{"headers"}},
		{2, []string{"headers", "check", "X-Bun-Config-Version: 1"}},
	})
}

// TestHeadersCLIFirstLine checks the SPEC's exact first stderr line,
// "error: <code>: <header name>", for each code.
func TestHeadersCLIFirstLine(t *testing.T) {
	seed := seedHeaders(t)
	tests := []struct {
		args []string
		want string
	}{
		{seed[1:], "error: header-missing: X-Bun-Config-Version"},
		{[]string{"X-Bun-Config-Version: 1.0"}, "error: header-format: X-Bun-Config-Version"},
		{[]string{"X-Bun-Registry-Hash", "0x00000000"}, "error: header-range: X-Bun-Registry-Hash"},
		{append(slices.Clone(seed[:4]), "X-Bun-Config-Checksum: 0xffffffffffffffff"), "error: header-checksum: X-Bun-Config-Checksum"},
	}
	for _, tt := range tests {
		_, errs, code := runInProcess(append([]string{"headers", "validate"}, tt.args...)...)
		first, _, _ := strings.Cut(errs, "\n")
		if code != 1 || (first != tt.want && !strings.HasPrefix(first, tt.want+" ")) {
			t.Errorf("headers validate %q: exit %d, first line %q, want %q", tt.args, code, first, tt.want)
		}
	}
}

// TestHeadersCLIRoundTrip: the headers of any valid config validate.
func TestHeadersCLIRoundTrip(t *testing.T) {
	for _, c := range []config.Config{
		config.Default(),
		{Version: 0, RegistryHash: 1, TerminalMode: config.None, Rows: 1, Cols: 1},
		{Version: 2, RegistryHash: 0xffffffff, FeatureFlags: 0x3ff, TerminalMode: config.Raw, Rows: 255, Cols: 255},
	} {
		h := headers.FromConfig(c)
		args := []string{"headers", "validate"}
		for _, n := range headers.Names {
			args = append(args, n, h.Get(n))
		}
		if out, errs, code := runInProcess(args...); code != 0 || out != "ok\n" {
			t.Errorf("%q: exit %d, %q %q", args, code, out, errs)
		}
	}
}
