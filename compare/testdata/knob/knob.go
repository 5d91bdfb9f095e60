// Package knob holds benchmarks whose cost can be raised by a known amount
// through the environment, so that compare-bench's power (how often it
// catches a slowdown of a given size) can be measured on real timings and
// real instruction counts. The benchmarks are in knob_test.go.
//
// It lives under testdata so that "./..." never builds or runs it; address it
// by path: go test -bench . ./compare/testdata/knob.
package knob

import (
	"fmt"
	"os"
	"strconv"
)

// InstrOp returns the op of BenchmarkInstr for KNOB_EXTRA_INSTR=k: three
// dependent LCG steps plus exactly k machine instructions on amd64.
func InstrOp(k int) (func(uint64) uint64, error) {
	if k < 0 || k >= len(instrOps) {
		return nil, fmt.Errorf("extra instructions must be in [0, %d], got %d", len(instrOps)-1, k)
	}
	return instrOps[k], nil
}

// ExtraInstr reads KNOB_EXTRA_INSTR; unset is 0.
func ExtraInstr() (int, error) {
	s := os.Getenv("KNOB_EXTRA_INSTR")
	if s == "" {
		return 0, nil
	}
	k, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("KNOB_EXTRA_INSTR=%q: want an integer in [0, %d]", s, len(instrOps)-1)
	}
	if _, err := InstrOp(k); err != nil {
		return 0, fmt.Errorf("KNOB_EXTRA_INSTR=%q: %w", s, err)
	}
	return k, nil
}
