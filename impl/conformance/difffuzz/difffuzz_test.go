package difffuzz

import (
	"testing"

	"github.com/bun13/bun13/impl/lockfile"
)

// Iteration i of a seed is always the same input.
func TestInputReproducible(t *testing.T) {
	for i := range uint64(200) {
		a, b := Input(42, i), Input(42, i)
		if a.String() != b.String() {
			t.Fatalf("iteration %d: %s then %s", i, a, b)
		}
	}
	if Input(42, 7).String() == Input(43, 7).String() {
		t.Error("seeds 42 and 43 give the same input")
	}
}

// Every shrinking candidate is smaller or plainer and still builds: the
// base lockfiles stay valid, so the mutation is what fails.
func TestSimplerCandidatesValid(t *testing.T) {
	kinds := map[string]int{}
	for i := range uint64(300) {
		in := Input(1, i)
		for _, c := range in.simpler() {
			switch c := c.(type) {
			case lockInput:
				kinds["lockfile"]++
				if _, err := lockfile.Encode(c.base); err != nil {
					t.Fatalf("iteration %d: candidate base does not encode: %v", i, err)
				}
				if len(c.mut.Ops) > len(in.(lockInput).mut.Ops) {
					t.Fatalf("iteration %d: candidate has more ops", i)
				}
			case encInput:
				kinds["encode"]++
				if _, err := lockfile.Encode(c.lf); err != nil {
					t.Fatalf("iteration %d: candidate does not encode: %v", i, err)
				}
			case frameInput:
				kinds["frame"]++
				if len(c.b) > len(in.(frameInput).b) {
					t.Fatalf("iteration %d: longer frame", i)
				}
			case hdrInput:
				kinds["headers"]++
				if len(c.args) > len(in.(hdrInput).args) {
					t.Fatalf("iteration %d: more headers", i)
				}
			}
		}
	}
	for _, k := range []string{"lockfile", "encode", "frame", "headers"} {
		if kinds[k] == 0 {
			t.Errorf("no %s candidates in 300 iterations", k)
		}
	}
}

// Mutated inputs never panic the reference, whatever the ops do.
func TestMutationsNeverPanic(t *testing.T) {
	for i := range uint64(1000) {
		if in, ok := Input(5, i).(lockInput); ok {
			_ = in.cases(func(string) (string, bool) { return "", false })
		}
	}
}
