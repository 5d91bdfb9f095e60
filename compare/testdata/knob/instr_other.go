//go:build !amd64

package knob

// instrStep is one LCG step in Go. Off amd64 the compiler decides how many
// instructions a step is, so the instruction knob is only approximate here:
// instrOps[k] does k more steps than instrOps[0].
//
//go:noinline
func instrSteps(x uint64, k int) uint64 {
	for range 3 + k {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

var instrOps = [...]func(uint64) uint64{
	func(x uint64) uint64 { return instrSteps(x, 0) },
	func(x uint64) uint64 { return instrSteps(x, 1) },
	func(x uint64) uint64 { return instrSteps(x, 2) },
	func(x uint64) uint64 { return instrSteps(x, 3) },
	func(x uint64) uint64 { return instrSteps(x, 4) },
	func(x uint64) uint64 { return instrSteps(x, 5) },
	func(x uint64) uint64 { return instrSteps(x, 6) },
	func(x uint64) uint64 { return instrSteps(x, 7) },
	func(x uint64) uint64 { return instrSteps(x, 8) },
}

// ExactInstructions reports whether the instruction knob adds exactly k
// machine instructions (only on amd64).
const ExactInstructions = false
