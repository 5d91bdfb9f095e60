// The time knob (BenchmarkKnob, BenchmarkFixed), for wall-clock mode:
//
//   - KNOB_EXTRA_NS=X  adds X ns of dependent arithmetic to every op.
//   - KNOB_EXTRA_PCT=P adds P percent of the calibrated base cost of an op.
//
// The extra work is a fractional number of spin iterations per op, spread
// evenly over the ops (Bresenham style), so that a +1 ns knob is +1 ns on
// average even though one spin iteration may cost more or less than 1 ns.
// Both sides run exactly the same code, calibration included; only the
// iteration count differs, so the knob adds nothing but the requested cost.
//
// The instruction knob (BenchmarkInstr, BenchmarkInstrFixed), for
// instruction mode:
//
//   - KNOB_EXTRA_INSTR=k (0 to 8) makes every op of BenchmarkInstr execute
//     exactly k more machine instructions (amd64: the ops are assembly,
//     knob_amd64.s). The op is called through a function value chosen once,
//     so k changes nothing else.

package knob

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// baseIters is the spin length of the unmodified op: about 20 ns on a
// current x86 core, which makes a 1 ns change a few percent: the size of
// regression this gate is built to see.
const baseIters = 16

// spin runs n steps of a 64-bit LCG. Each step depends on the previous one,
// so the CPU cannot overlap them and the cost is linear in n.
//
//go:noinline
func spin(x uint64, n int) uint64 {
	for range n {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

// op is one benchmark operation: the base spin plus extra iterations drawn
// from the fractional accumulator acc.
func op(x uint64, acc *float64, extraPerOp float64) uint64 {
	*acc += extraPerOp
	k := int(*acc)
	*acc -= float64(k)
	return spin(x, baseIters+k)
}

// envFloat reads a non-negative float from the environment; unset is 0.
func envFloat(tb testing.TB, name string) float64 {
	s := os.Getenv(name)
	if s == "" {
		return 0
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		tb.Fatalf("%s=%q: want a non-negative number", name, s)
	}
	return v
}

// nsPerIter measures the cost of one spin step. It is timed in a single long
// call so the call overhead vanishes against 10M dependent steps.
func nsPerIter() float64 {
	const n = 10_000_000
	start := time.Now()
	x := spin(1, n)
	elapsed := time.Since(start)
	if x == 0 { // keeps x alive; an LCG with odd increment never reaches 0 here
		return 1
	}
	return float64(elapsed.Nanoseconds()) / n
}

// nsPerOp measures the cost of an unmodified op, for KNOB_EXTRA_PCT.
func nsPerOp() float64 {
	const n = 1_000_000
	var acc float64
	x := uint64(1)
	start := time.Now()
	for range n {
		x = op(x, &acc, 0)
	}
	elapsed := time.Since(start)
	if x == 0 {
		return 1
	}
	return float64(elapsed.Nanoseconds()) / n
}

// extraItersPerOp turns the env knobs into spin iterations per op. It
// calibrates whether or not a knob is set: a side that spins for 50 ms
// before its timed loop and a side that does not are different experiments.
// (When only the knob side calibrated, BenchmarkFixed, which runs after it
// in the same process, came out 1-10% faster on that side in most power
// runs on a loaded 2-core VM.)
func extraItersPerOp(tb testing.TB) float64 {
	extraNs := envFloat(tb, "KNOB_EXTRA_NS")
	pct := envFloat(tb, "KNOB_EXTRA_PCT")
	perOp, perIter := nsPerOp(), nsPerIter()
	return (extraNs + perOp*pct/100) / perIter
}

func BenchmarkKnob(b *testing.B) {
	extra := extraItersPerOp(b)
	var acc float64
	x := uint64(1)
	for b.Loop() {
		x = op(x, &acc, extra)
	}
	if x == 0 {
		b.Log("unreachable: keeps x alive")
	}
}

// BenchmarkFixed never changes: a second benchmark in the family, so the
// multiple-comparison correction is exercised even in the knob experiments.
func BenchmarkFixed(b *testing.B) {
	x := uint64(1)
	for b.Loop() {
		x = spin(x, 4*baseIters)
	}
	if x == 0 {
		b.Log("unreachable: keeps x alive")
	}
}

func TestSpinIsDeterministic(t *testing.T) {
	if spin(1, 3) != spin(spin(1, 1), 2) {
		t.Fatal("spin is not a pure step function")
	}
}

// BenchmarkInstr is three LCG steps plus KNOB_EXTRA_INSTR machine
// instructions per op, called through a function value.
func BenchmarkInstr(b *testing.B) {
	k, err := ExtraInstr()
	if err != nil {
		b.Fatal(err)
	}
	op, _ := InstrOp(k)
	x := uint64(1)
	for b.Loop() {
		x = op(x)
	}
	if x == 0 {
		b.Log("unreachable: keeps x alive")
	}
}

// BenchmarkInstrFixed is BenchmarkInstr that the knob never changes: the
// second member of the family in the instruction experiments.
func BenchmarkInstrFixed(b *testing.B) {
	op, _ := InstrOp(0)
	x := uint64(1)
	for b.Loop() {
		x = op(x)
	}
	if x == 0 {
		b.Log("unreachable: keeps x alive")
	}
}

func TestInstrOps(t *testing.T) {
	for k := range len(instrOps) {
		op, err := InstrOp(k)
		if err != nil {
			t.Fatal(err)
		}
		// Each extra instruction adds 1 to the LCG result.
		if got, want := op(7), instrOps[0](7)+uint64(k); ExactInstructions && got != want {
			t.Errorf("instrOp%d(7) = %d, want %d", k, got, want)
		}
	}
	if _, err := InstrOp(len(instrOps)); err == nil {
		t.Error("InstrOp out of range: no error")
	}
}
