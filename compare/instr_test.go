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

// TestInstructionModeKnob measures the knob under valgrind: A/A must agree
// to well under the 0.5 instr/op tolerance, and KNOB_EXTRA_INSTR=1 must
// read as one more instruction per op and fail the gate.
func TestInstructionModeKnob(t *testing.T) {
	vg := testenv.LookPath(t, "valgrind", "apt-get install -y valgrind")
	if testing.Short() {
		t.Skip("runs valgrind for about 20 s of CPU")
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

	for _, tt := range []struct {
		name   string
		envB   []string
		delta  float64
		failed bool
	}{
		{"A/A", nil, 0, false},
		{"k=1", []string{"KNOB_EXTRA_INSTR=1"}, 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var a, b bytes.Buffer
			if err := tc.MeasureInstructions(ctx, Arm{Binaries: bins}, Arm{Binaries: bins, Env: tt.envB}, cfg, &a, &b); err != nil {
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
			if m.Unit != UnitInstr || !m.Deterministic {
				t.Fatalf("metric %s deterministic=%v: %s\nA:\n%sB:\n%s", m.Unit, m.Deterministic, m.Reason, a.String(), b.String())
			}
			if d := m.PR.Median - m.Base.Median; math.Abs(d-tt.delta) > 0.25 {
				t.Errorf("Δ = %.4f instr/op, want %v ± 0.25\nA:\n%sB:\n%s", d, tt.delta, a.String(), b.String())
			}
			if rep.Failed != tt.failed {
				t.Errorf("failed = %v, want %v: %s", rep.Failed, tt.failed, m.Reason)
			}
		})
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
