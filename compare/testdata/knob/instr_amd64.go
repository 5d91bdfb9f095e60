package knob

// The instruction knob's operations, in knob_amd64.s: instrOpK is three LCG
// steps plus exactly K extra ADDQ instructions.
func instrOp0(x uint64) uint64
func instrOp1(x uint64) uint64
func instrOp2(x uint64) uint64
func instrOp3(x uint64) uint64
func instrOp4(x uint64) uint64
func instrOp5(x uint64) uint64
func instrOp6(x uint64) uint64
func instrOp7(x uint64) uint64
func instrOp8(x uint64) uint64

// instrOps[k] adds exactly k machine instructions to an op.
var instrOps = [...]func(uint64) uint64{instrOp0, instrOp1, instrOp2, instrOp3, instrOp4, instrOp5, instrOp6, instrOp7, instrOp8}

// ExactInstructions reports whether the instruction knob adds exactly k
// machine instructions (true on amd64, where the ops are assembly).
const ExactInstructions = true
