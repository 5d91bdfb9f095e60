package compare

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// UnitInstr is the unit of instruction mode: machine instructions per op.
const UnitInstr = "instr/op"

// PinnedEnv is the environment of every instruction-mode run. One P and no
// asynchronous preemption keep the benchmark on one goroutine schedule;
// no collection during the timed loop keeps the garbage collector's
// timing out of the count (GOMEMLIMIT only guards against running out of
// memory: a benchmark that allocates more than that gets collected, and its
// repeats then disagree, which the report shows).
var PinnedEnv = []string{"GOMAXPROCS=1", "GOGC=off", "GOMEMLIMIT=2GiB", "GODEBUG=asyncpreemptoff=1"}

// InstrConfig configures instruction mode.
type InstrConfig struct {
	// Bench is the -test.bench regular expression; each benchmark it
	// selects (sub-benchmarks one by one) is measured alone.
	Bench string
	// N1 and N2 are the two iteration counts (-test.benchtime Nx);
	// instr/op = (I(N2) - I(N1)) / (N2 - N1). N2 = 0 chooses N2 per
	// benchmark so that the difference is about Budget instructions.
	N1, N2 int
	// Budget is the target I(N2) - I(N1) when N2 is chosen.
	Budget float64
	// Repeats is how many times each side's instr/op is measured (each
	// a pair of valgrind runs); the spread decides whether the
	// comparison is exact or statistical.
	Repeats int
	// Jobs is how many valgrind runs go at once (benchmarks, across
	// packages, are spread over them).
	Jobs int
	// Valgrind is the valgrind command; "" means "valgrind" from PATH.
	Valgrind string
}

// DefaultInstrConfig returns the documented defaults.
func DefaultInstrConfig() InstrConfig {
	return InstrConfig{N1: 100, Budget: 2e8, Repeats: 3, Jobs: runtime.NumCPU()}
}

func (c InstrConfig) validate() error {
	switch {
	case c.Bench == "":
		return errors.New("bench must not be empty")
	case c.N1 < 2:
		return fmt.Errorf("n1 must be at least 2 (at 1 the testing package runs a b.N benchmark differently), got %d", c.N1)
	case c.N2 != 0 && c.N2 <= c.N1:
		return fmt.Errorf("n2 must be larger than n1 (%d), got %d", c.N1, c.N2)
	case c.N2 == 0 && !(c.Budget >= 1e5):
		return fmt.Errorf("instruction budget must be at least 1e5, got %v", c.Budget)
	case c.Repeats < 2:
		return fmt.Errorf("repeats must be at least 2 (the spread of the repeats decides the method), got %d", c.Repeats)
	case c.Jobs < 1:
		return fmt.Errorf("jobs must be at least 1, got %d", c.Jobs)
	}
	return nil
}

func (c InstrConfig) valgrind() string {
	if c.Valgrind == "" {
		return "valgrind"
	}
	return c.Valgrind
}

// InstrResult is one benchmark's measurement on one side.
type InstrResult struct {
	Name   string
	N1, N2 int
	// PerOp is instr/op of each repeat.
	PerOp []float64
	// Counts are the I(N1), I(N2) pairs of each repeat.
	Counts [][2]int64
	// Wall is the time all of this benchmark's valgrind runs took, both
	// sides and the pilot included.
	Wall time.Duration
}

// benchLine is a result line of a benchmark run with -test.cpu=1: the name
// has no -N suffix.
var benchLine = regexp.MustCompile(`^(Benchmark\S+)\s+\d+\s`)

// configLine is a "key: value" line of the benchmark format.
var configLine = regexp.MustCompile(`^[a-z][^\s:]*: `)

// ListBenchmarks runs bin natively, once per benchmark (-test.benchtime=1x),
// and returns the full names of the benchmarks that match bench, leaves of
// sub-benchmark trees only, and the configuration lines (goos, pkg, cpu...)
// it printed.
func (tc Toolchain) ListBenchmarks(ctx context.Context, bin TestBinary, env []string, bench string) (names, config []string, err error) {
	args := []string{"-test.run=^$", "-test.bench=" + bench, "-test.benchtime=1x", "-test.count=1", "-test.cpu=1"}
	out, err := tc.command(ctx, bin.Dir, slices.Concat(PinnedEnv, env), bin.Path, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("listing benchmarks of %s: %w", bin.ImportPath, err)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := benchLine.FindStringSubmatch(line); m != nil && !seen[m[1]] {
			seen[m[1]] = true
			names = append(names, m[1])
		} else if configLine.MatchString(line) && !seen[line] {
			seen[line] = true
			config = append(config, line)
		}
	}
	return names, config, nil
}

// exactBench is the -test.bench expression that selects exactly the
// benchmark with this full name: each level anchored and quoted.
func exactBench(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// sysmonFn matches the line of a callgrind profile that names
// runtime.sysmon, compressed ("fn=(12) runtime.sysmon") or not.
var sysmonFn = regexp.MustCompile(`^fn=(\(\d+\) )?runtime\.sysmon$`)

// CountInstructions runs one benchmark alone for n iterations under
// callgrind and returns the instructions executed by every thread except
// the runtime's sysmon thread.
//
// sysmon is excluded because it is the one part of a Go process whose
// instruction count follows the wall clock: it wakes every 20 µs to 10 ms
// whatever the program does, so on a loaded machine, where a run takes
// longer, it executes more. Callgrind with --separate-threads=yes gives
// each thread its own total; the thread that ran runtime.sysmon is left
// out.
func (tc Toolchain) CountInstructions(ctx context.Context, cfg InstrConfig, bin TestBinary, env []string, name string, n int) (int64, error) {
	tmp, err := os.MkdirTemp("", "compare-bench-cg-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	args := []string{
		"-q", "--tool=callgrind", "--separate-threads=yes", "--compress-strings=no",
		"--callgrind-out-file=" + filepath.Join(tmp, "cg.out"),
		bin.Path,
		"-test.run=^$", "-test.bench=" + exactBench(name), "-test.benchtime=" + strconv.Itoa(n) + "x",
		"-test.count=1", "-test.cpu=1",
	}
	out, err := tc.command(ctx, bin.Dir, slices.Concat(PinnedEnv, env), cfg.valgrind(), args...)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", bin.ImportPath, name, err)
	}
	ran := false
	for _, l := range strings.Split(string(out), "\n") {
		if m := benchLine.FindStringSubmatch(l); m != nil && m[1] == name {
			ran = true
		}
	}
	if !ran {
		return 0, fmt.Errorf("%s %s: no result line at -test.benchtime=%dx under valgrind:\n%s", bin.ImportPath, name, n, out)
	}
	// One profile per thread, cg.out-01, cg.out-02, ... (callgrind also
	// leaves an empty cg.out).
	files, err := filepath.Glob(filepath.Join(tmp, "cg.out-*"))
	if err != nil {
		return 0, err
	}
	var total int64
	threads, sysmon := 0, 0
	for _, f := range files {
		t, isSysmon, err := threadTotal(f)
		if err != nil {
			return 0, err
		}
		threads++
		if isSysmon {
			sysmon++
			continue
		}
		total += t
	}
	if threads == 0 || sysmon != 1 {
		return 0, fmt.Errorf("%s %s: callgrind wrote %d thread profiles, %d of them sysmon's; want exactly one sysmon thread", bin.ImportPath, name, threads, sysmon)
	}
	return total, nil
}

// threadTotal reads a callgrind profile's "totals:" line and whether the
// thread ran runtime.sysmon.
func threadTotal(path string) (int64, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	var (
		total  int64 = -1
		sysmon bool
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte("totals: ")), bytes.HasPrefix(line, []byte("summary: ")):
			v, err := strconv.ParseInt(strings.Fields(string(line))[1], 10, 64)
			if err != nil {
				return 0, false, fmt.Errorf("%s: bad %q", path, line)
			}
			total = v
		case bytes.HasPrefix(line, []byte("fn=")) && sysmonFn.Match(line):
			sysmon = true
		}
	}
	if err := sc.Err(); err != nil {
		return 0, false, err
	}
	if total < 0 {
		return 0, false, fmt.Errorf("%s: no totals line", path)
	}
	return total, sysmon, nil
}

// perOp is one repeat's estimate.
func perOp(i1, i2 int64, n1, n2 int) float64 {
	return float64(i2-i1) / float64(n2-n1)
}

// instrSide is one side of one benchmark being measured.
type instrSide struct {
	bin *TestBinary
	env []string
	res *InstrResult
}

// measureOne measures one benchmark on the sides that have it: a pilot
// chooses N2 (unless fixed), then Repeats rounds, each side measured once
// per round, in alternating order.
func (tc Toolchain) measureOne(ctx context.Context, cfg InstrConfig, name string, sides []*instrSide) error {
	start := time.Now()
	n1, n2 := cfg.N1, cfg.N2
	// first holds I(n1) per side when it is already known.
	var first []int64
	if n2 == 0 {
		// Pilot: from 2 ops (fewer changes the structure of the run:
		// testing runs a b.N benchmark once at N=1 before the real
		// count), grow the step tenfold from one op until it costs a
		// twentieth of the budget or 2M instructions (20 times the
		// start-up noise), on the dearest side. Then N1 is lowered for
		// dear benchmarks (at most a twentieth of the budget) and N2
		// is N1 plus the budget's worth of ops. Starting small keeps a
		// 100 M instr/op benchmark from costing billions in its pilot.
		const base = 2
		worst := 0.0
		for _, s := range sides {
			c0, err := tc.CountInstructions(ctx, cfg, *s.bin, s.env, name, base)
			if err != nil {
				return err
			}
			step := 1
			for {
				c, err := tc.CountInstructions(ctx, cfg, *s.bin, s.env, name, base+step)
				if err != nil {
					return err
				}
				d := float64(c - c0)
				if d >= min(cfg.Budget/20, 2e6) || step >= 1e8 {
					worst = math.Max(worst, d/float64(step))
					break
				}
				step *= 10
			}
		}
		steps := 1e9
		if worst > 0 {
			steps = math.Min(steps, math.Max(1, cfg.Budget/worst))
			n1 = max(base, min(n1, int(cfg.Budget/20/worst)))
		}
		n2 = n1 + int(steps)
	} else {
		first = make([]int64, len(sides))
		for i, s := range sides {
			c, err := tc.CountInstructions(ctx, cfg, *s.bin, s.env, name, n1)
			if err != nil {
				return err
			}
			first[i] = c
		}
	}
	for _, s := range sides {
		s.res = &InstrResult{Name: name, N1: n1, N2: n2}
	}
	for r := range cfg.Repeats {
		order := make([]int, len(sides))
		for i := range order {
			order[i] = i
		}
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, i := range order {
			s := sides[i]
			var c1 int64
			if r == 0 && first != nil {
				c1 = first[i]
			} else {
				var err error
				if c1, err = tc.CountInstructions(ctx, cfg, *s.bin, s.env, name, n1); err != nil {
					return err
				}
			}
			c2, err := tc.CountInstructions(ctx, cfg, *s.bin, s.env, name, n2)
			if err != nil {
				return err
			}
			s.res.Counts = append(s.res.Counts, [2]int64{c1, c2})
			s.res.PerOp = append(s.res.PerOp, perOp(c1, c2, n1, n2))
		}
	}
	wall := time.Since(start)
	for _, s := range sides {
		s.res.Wall = wall
	}
	tc.logf("%s: %d..%dx, %d repeats, %s", name, n1, n2, cfg.Repeats, wall.Round(100*time.Millisecond))
	return nil
}

// instrPackage is one package's benchmarks on both sides.
type instrPackage struct {
	importPath string
	a, b       *TestBinary
	configA    []string
	configB    []string
	names      []string
	sides      map[string][2]*instrSide
}

// MeasureInstructions measures every benchmark of both arms in instruction
// mode and writes each side's results in the Go benchmark format (unit
// instr/op, one line per repeat) to aOut and bOut. Benchmarks run
// cfg.Jobs at a time, across packages.
func (tc Toolchain) MeasureInstructions(ctx context.Context, a, b Arm, cfg InstrConfig, aOut, bOut io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	var pkgs []*instrPackage
	byPath := map[string]*instrPackage{}
	for i, arm := range []Arm{a, b} {
		for j := range arm.Binaries {
			bin := &arm.Binaries[j]
			p := byPath[bin.ImportPath]
			if p == nil {
				p = &instrPackage{importPath: bin.ImportPath, sides: map[string][2]*instrSide{}}
				byPath[bin.ImportPath] = p
				pkgs = append(pkgs, p)
			}
			names, config, err := tc.ListBenchmarks(ctx, *bin, arm.Env, cfg.Bench)
			if err != nil {
				return err
			}
			if len(names) == 0 {
				tc.logf("%s: no benchmark matches %q", bin.ImportPath, cfg.Bench)
			}
			if i == 0 {
				p.a, p.configA = bin, config
			} else {
				p.b, p.configB = bin, config
			}
			for _, n := range names {
				s, ok := p.sides[n]
				if !ok {
					p.names = append(p.names, n)
				}
				s[i] = &instrSide{bin: bin, env: arm.Env}
				p.sides[n] = s
			}
		}
	}

	type task struct {
		name  string
		sides []*instrSide
	}
	var tasks []task
	for _, p := range pkgs {
		for _, n := range p.names {
			var ss []*instrSide
			for _, s := range p.sides[n] {
				if s != nil {
					ss = append(ss, s)
				}
			}
			tasks = append(tasks, task{n, ss})
		}
	}
	if len(tasks) == 0 {
		return fmt.Errorf("no benchmark matches %q: %w", cfg.Bench, ErrNoResults)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan task)
	for range min(cfg.Jobs, max(1, len(tasks))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range next {
				if err := tc.measureOne(ctx, cfg, t.name, t.sides); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, t := range tasks {
		select {
		case next <- t:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	for i, w := range []io.Writer{aOut, bOut} {
		var sb strings.Builder
		for _, p := range pkgs {
			config := p.configA
			if i == 1 {
				config = p.configB
			}
			if len(config) == 0 {
				continue
			}
			for _, l := range config {
				sb.WriteString(l + "\n")
			}
			sb.WriteString("measure: instructions (callgrind, sysmon thread excluded; " + strings.Join(PinnedEnv, " ") + " -test.cpu=1)\n")
			for _, n := range p.names {
				s := p.sides[n][i]
				if s == nil || s.res == nil {
					continue
				}
				fmt.Fprintf(&sb, "instr-iterations: %d %d\n", s.res.N1, s.res.N2)
				fmt.Fprintf(&sb, "instr-wall-seconds: %.1f\n", s.res.Wall.Seconds())
				for _, v := range s.res.PerOp {
					fmt.Fprintf(&sb, "%s \t%d\t%s %s\n", n, s.res.N2-s.res.N1, strconv.FormatFloat(v, 'f', 4, 64), UnitInstr)
				}
			}
		}
		if _, err := io.WriteString(w, sb.String()); err != nil {
			return err
		}
	}
	return nil
}
