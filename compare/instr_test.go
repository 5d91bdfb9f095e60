package compare

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bun13/bun13/impl/testenv"
)

func TestExactBench(t *testing.T) {
	for name, want := range map[string]string{
		"BenchmarkX":                          "^BenchmarkX$",
		"BenchmarkLockfileDecode/packages=40": "^BenchmarkLockfileDecode$/^packages=40$",
		"BenchmarkA/b.c/d#01":                 `^BenchmarkA$/^b\.c$/^d#01$`,
	} {
		if got := exactBench(name); got != want {
			t.Errorf("exactBench(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestInstrConfigValidate(t *testing.T) {
	ok := DefaultInstrConfig()
	ok.Bench = "."
	if err := ok.validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, mod := range map[string]func(*InstrConfig){
		"no bench":       func(c *InstrConfig) { c.Bench = "" },
		"n1 zero":        func(c *InstrConfig) { c.N1 = 0 },
		"n2 below n1":    func(c *InstrConfig) { c.N2 = c.N1 },
		"one repeat":     func(c *InstrConfig) { c.Repeats = 1 },
		"no jobs":        func(c *InstrConfig) { c.Jobs = 0 },
		"budget too low": func(c *InstrConfig) { c.Budget = 10 },
	} {
		c := ok
		mod(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestInstructionModeKnob measures the knob under valgrind, k = 0 against
// k = 1: each side's repeats must agree to well under the 0.5 instr/op
// tolerance (the A/A check), and the difference must read as one
// instruction per op and fail the gate.
func TestInstructionModeKnob(t *testing.T) {
	vg := testenv.LookPath(t, "valgrind", "apt-get install -y valgrind")
	if testing.Short() {
		t.Skip("runs valgrind 8 times, about 12 s of CPU")
	}
	ctx := context.Background()
	var log bytes.Buffer
	tc := Toolchain{Log: &log}
	bins, err := tc.Build(ctx, ".", []string{"./testdata/knob"}, filepath.Join(t.TempDir(), "bin"))
	if err != nil || len(bins) != 1 {
		t.Fatalf("build: %v (%d binaries)", err, len(bins))
	}
	cfg := DefaultInstrConfig()
	cfg.Bench = "^BenchmarkInstr$"
	cfg.N2 = 1000100
	cfg.Repeats = 2
	cfg.Valgrind = vg

	var a, b bytes.Buffer
	if err := tc.MeasureInstructions(ctx, Arm{Binaries: bins}, Arm{Binaries: bins, Env: []string{"KNOB_EXTRA_INSTR=1"}}, cfg, &a, &b); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !strings.Contains(a.String(), " instr/op\n") || !strings.Contains(a.String(), "pkg: github.com/bun13/bun13/compare/testdata/knob\n") {
		t.Fatalf("A side is not benchfmt with instr/op:\n%s", a.String())
	}
	rep, err := Compare(Input{Name: "A", Data: a.Bytes()}, Input{Name: "B", Data: b.Bytes()}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Benchmarks[0].Metrics[0]
	if m.Unit != UnitInstr || !m.Deterministic || m.Spread == nil || *m.Spread > 0.25 {
		t.Fatalf("metric %s deterministic=%v spread=%v: %s\nA:\n%sB:\n%s", m.Unit, m.Deterministic, m.Spread, m.Reason, a.String(), b.String())
	}
	if d := m.PR.Median - m.Base.Median; math.Abs(d-1) > 0.25 {
		t.Errorf("Δ = %.4f instr/op, want 1 ± 0.25\nA:\n%sB:\n%s", d, a.String(), b.String())
	}
	if !rep.Failed || m.Verdict != VerdictRegression {
		t.Errorf("k=1 passed the gate: %s", m.Reason)
	}
}

func TestCountInstructionsNoSuchBenchmark(t *testing.T) {
	vg := testenv.LookPath(t, "valgrind", "apt-get install -y valgrind")
	ctx := context.Background()
	tc := Toolchain{}
	bins, err := tc.Build(ctx, ".", []string{"./testdata/knob"}, filepath.Join(t.TempDir(), "bin"))
	if err != nil || len(bins) != 1 {
		t.Fatalf("build: %v", err)
	}
	cfg := DefaultInstrConfig()
	cfg.Valgrind = vg
	_, err = tc.CountInstructions(ctx, cfg, bins[0], nil, "BenchmarkNoSuch", 10)
	if err == nil || !strings.Contains(err.Error(), "no result line") {
		t.Errorf("err = %v, want a missing result line", err)
	}
}
