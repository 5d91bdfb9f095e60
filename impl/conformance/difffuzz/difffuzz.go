// Package difffuzz fuzzes an implementation against the reference:
// mutations of valid lockfiles (bit flips, truncations, field rewrites with
// and without checksum fix-up, record reorderings), random encoder input,
// random frames and header sets, each run through the implementation's
// CLI and compared with the reference's answer. Every disagreement is
// shrunk to a small input before it is reported.
package difffuzz

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bun13/bun13/impl/conformance/cases"
	"github.com/bun13/bun13/impl/conformance/runner"
)

// Options configure a fuzzing run.
type Options struct {
	Impl     *runner.Impl
	Seed     uint64
	Duration time.Duration
	Jobs     int    // workers; 0: the number of CPUs
	Dir      string // scratch directory
	// MaxIterations stops the run after this many iterations (0: run
	// for the whole duration).
	MaxIterations uint64
	// MaxFindings stops the run after this many distinct disagreements
	// (0: run for the whole duration).
	MaxFindings int
	// MaxShrinkSteps bounds the candidates tried while shrinking one
	// finding (0: 400), each one or two runs of the implementation. Shrinking a finding found before the deadline
	// finishes even after it.
	MaxShrinkSteps int
	// Lookup is the environment config validate applies (section 6).
	Lookup func(string) (string, bool)
	// Log, if set, gets a line per finding.
	Log io.Writer
}

// Finding is one disagreement, shrunk.
type Finding struct {
	Iteration   uint64 // reproduce with the same seed: iteration N's input
	Signature   string
	Original    string // the input before shrinking
	Description string // the shrunk input
	Outcome     runner.Outcome
	Steps       int // candidates tried while shrinking
	InputSize   int // bytes (or arguments) before shrinking
	ShrunkSize  int // after
}

// Stats count what a run did.
type Stats struct {
	Iterations uint64
	Execs      uint64
	ByArea     map[cases.Area]uint64
	Elapsed    time.Duration
}

// input is one fuzzing input: it builds its cases and proposes simpler
// variants of itself for shrinking.
type input interface {
	cases(lookup func(string) (string, bool)) []cases.Case
	simpler() []input
	size() int
	String() string
}

type fuzzer struct {
	o        Options
	execs    atomic.Uint64
	mu       sync.Mutex
	found    map[string]bool
	findings []Finding
	byArea   map[cases.Area]uint64
}

// Fuzz runs until the duration passes, ctx ends or MaxFindings distinct
// disagreements were found. An error means the implementation could not
// be run.
func Fuzz(ctx context.Context, o Options) (Stats, []Finding, error) {
	if o.Jobs <= 0 {
		o.Jobs = runtime.NumCPU()
	}
	if o.MaxShrinkSteps == 0 {
		o.MaxShrinkSteps = 400
	}
	if o.Lookup == nil {
		o.Lookup = func(string) (string, bool) { return "", false }
	}
	f := &fuzzer{o: o, found: map[string]bool{}, byArea: map[cases.Area]uint64{}}
	start := time.Now()
	deadline := start.Add(o.Duration)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var iter atomic.Uint64
	var wg sync.WaitGroup
	for w := range o.Jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := filepath.Join(o.Dir, fmt.Sprintf("w%d", w))
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := iter.Add(1) - 1
				if o.MaxIterations > 0 && i >= o.MaxIterations {
					iter.Add(^uint64(0)) // not run
					return
				}
				in := Input(o.Seed, i)
				if err := f.try(ctx, dir, i, in); err != nil {
					cancel(err)
					return
				}
				if o.MaxFindings > 0 && f.count() >= o.MaxFindings {
					cancel(nil)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := Stats{Iterations: iter.Load(), Execs: f.execs.Load(), ByArea: f.byArea, Elapsed: time.Since(start)}
	if err := context.Cause(ctx); err != nil && err != context.Canceled {
		return st, f.findings, err
	}
	return st, f.findings, nil
}

func (f *fuzzer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.findings)
}

// check runs in's cases and returns the first disagreement.
func (f *fuzzer) check(ctx context.Context, dir string, in input) (*runner.Outcome, error) {
	cs := in.cases(f.o.Lookup)
	for k := range cs {
		c := &cs[k]
		res, err := f.o.Impl.Run(ctx, c, dir)
		f.execs.Add(1)
		if err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, nil // stopped: a killed command proves nothing
		}
		got := runner.Parse(c.Area, res)
		if ok, why := runner.Compare(c, got); !ok {
			return &runner.Outcome{Case: c, Result: res, Got: got, Why: why, Dir: dir}, nil
		}
	}
	return nil, nil
}

// signature classes a disagreement: area, the reference's verdict and the
// implementation's, so that shrinking keeps the same bug in view.
func signature(o *runner.Outcome) string {
	w := o.Case.Want
	return fmt.Sprintf("%s: want exit %d %s, got exit %d %s", o.Case.Area, w.Exit, w.Code, o.Got.Exit, o.Got.Code)
}

func (f *fuzzer) try(ctx context.Context, dir string, i uint64, in input) error {
	f.mu.Lock()
	for _, c := range in.cases(f.o.Lookup) {
		f.byArea[c.Area]++
	}
	f.mu.Unlock()
	out, err := f.check(ctx, dir, in)
	if err != nil || out == nil {
		return err
	}
	sig := signature(out)
	f.mu.Lock()
	seen := f.found[sig]
	f.found[sig] = true
	f.mu.Unlock()
	if seen {
		return nil
	}
	orig := in.String()
	origSize := in.size()
	shrunk, outcome, steps, err := f.shrink(context.WithoutCancel(ctx), dir+"-shrink", in, out, sig)
	if err != nil {
		return err
	}
	fd := Finding{Iteration: i, Signature: sig, Original: orig, Description: shrunk.String(), Outcome: *outcome, Steps: steps, InputSize: origSize, ShrunkSize: shrunk.size()}
	f.mu.Lock()
	f.findings = append(f.findings, fd)
	f.mu.Unlock()
	if f.o.Log != nil {
		fmt.Fprintf(f.o.Log, "found at iteration %d: %s (%s); shrunk from size %d to %d in %d steps\n", i, outcome.Case.Name, sig, origSize, fd.ShrunkSize, steps)
	}
	return nil
}

// shrink greedily takes the first simpler variant that still shows the
// same disagreement, until none does or the step budget is spent.
func (f *fuzzer) shrink(ctx context.Context, dir string, in input, out *runner.Outcome, sig string) (input, *runner.Outcome, int, error) {
	steps := 0
	for progress := true; progress && steps < f.o.MaxShrinkSteps; {
		progress = false
		for _, cand := range in.simpler() {
			if steps >= f.o.MaxShrinkSteps {
				break
			}
			steps++
			o, err := f.check(ctx, dir, cand)
			if err != nil {
				return nil, nil, steps, err
			}
			if o != nil && signature(o) == sig {
				in, out, progress = cand, o, true
				break
			}
		}
	}
	return in, out, steps, nil
}

// Input is iteration i's input for a seed: the same pair always gives the
// same input.
func Input(seed, i uint64) input {
	r := rand.New(rand.NewPCG(seed, i))
	switch k := r.IntN(20); {
	case k < 9:
		return randLockInput(r)
	case k < 12:
		return randEncInput(r)
	case k < 16:
		return frameInput{b: cases.RandFrame(r)}
	default:
		return hdrInput{args: cases.RandHeaders(r)}
	}
}
