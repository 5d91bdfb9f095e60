package compare

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// BenchConfig is what each test binary run is asked to do.
type BenchConfig struct {
	// Bench is the -test.bench regular expression.
	Bench string
	// Benchtime is passed as -test.benchtime when not empty.
	Benchtime string
	// Count is the number of rounds; each round runs every binary of
	// both sides once with -test.count=1.
	Count int
	// Shuffle, when not nil, draws the order of the two sides in each
	// round (per package) instead of alternating A B, B A, ...: with a
	// paired analysis, an order that follows a pattern can line up with
	// a periodic load.
	Shuffle *rand.Rand
}

func (c BenchConfig) validate() error {
	switch {
	case c.Count < 1:
		return fmt.Errorf("count must be at least 1, got %d", c.Count)
	case c.Bench == "":
		return errors.New("bench must not be empty")
	}
	return nil
}

// TestBinary is a compiled test binary of one package.
type TestBinary struct {
	ImportPath string
	// Dir is the package's source directory: go test runs a test binary
	// there, and benchmarks that read testdata/ rely on it.
	Dir  string
	Path string
}

// Arm is one side of an interleaved comparison.
type Arm struct {
	Binaries []TestBinary
	// Env is added to the environment of each run (KEY=VALUE).
	Env []string
}

// Toolchain runs the go and git commands the runner needs.
type Toolchain struct {
	// Go is the go command; "" means "go" from PATH.
	Go string
	// Log receives progress lines and the commands' stderr; nil discards.
	Log io.Writer
}

func (tc Toolchain) goCmd() string {
	if tc.Go == "" {
		return "go"
	}
	return tc.Go
}

func (tc Toolchain) log() io.Writer {
	if tc.Log == nil {
		return io.Discard
	}
	return tc.Log
}

func (tc Toolchain) logf(format string, args ...any) {
	fmt.Fprintf(tc.log(), format+"\n", args...)
}

// command runs name with args in dir and returns its stdout. A failure
// carries the command line and its stderr, since that is what a user needs
// to fix a bad ref or a broken package.
func (tc Toolchain) command(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 4000 {
			msg = "..." + msg[len(msg)-4000:]
		}
		return nil, fmt.Errorf("%s %s (in %s): %w\n%s", filepath.Base(name), strings.Join(args, " "), dir, err, msg)
	}
	if stderr.Len() > 0 {
		tc.log().Write(stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// Build compiles one test binary per package matched by patterns, as the go
// command sees them from dir, into outDir. Packages without test files are
// skipped, and so is a pattern that matches nothing (the base commit may
// predate the benchmarks).
func (tc Toolchain) Build(ctx context.Context, dir string, patterns []string, outDir string) ([]TestBinary, error) {
	patterns = tc.existingPatterns(dir, patterns)
	if len(patterns) == 0 {
		return nil, nil
	}
	args := append([]string{"list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{len .TestGoFiles}}\t{{len .XTestGoFiles}}"}, patterns...)
	out, err := tc.command(ctx, dir, nil, tc.goCmd(), args...)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	var bins []TestBinary
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 || (f[2] == "0" && f[3] == "0") {
			continue
		}
		bin := TestBinary{
			ImportPath: f[0],
			Dir:        f[1],
			Path:       filepath.Join(outDir, strconv.Itoa(len(bins))+"-"+filepath.Base(f[0])+".test"),
		}
		tc.logf("building %s", bin.ImportPath)
		if _, err := tc.command(ctx, dir, nil, tc.goCmd(), "test", "-c", "-o", bin.Path, bin.ImportPath); err != nil {
			return nil, err
		}
		bins = append(bins, bin)
	}
	return bins, nil
}

// existingPatterns drops relative patterns whose directory does not exist
// in dir. "go list ./bench/..." fails outright when there is no bench
// directory, and the base of the PR that adds the benchmarks has none.
func (tc Toolchain) existingPatterns(dir string, patterns []string) []string {
	var keep []string
	for _, p := range patterns {
		if p == "." || p == ".." || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") {
			root, _, wild := strings.Cut(p, "...")
			if wild && !strings.HasSuffix(root, "/") {
				root = filepath.Dir(root) // "./foo..." also matches ./foobar
			}
			if _, err := os.Stat(filepath.Join(dir, root)); err != nil {
				tc.logf("%s: no %s here, skipping it", dir, p)
				continue
			}
		}
		keep = append(keep, p)
	}
	return keep
}

// Interleave runs both sides cfg.Count rounds and writes each side's
// benchmark output to aOut and bOut.
//
// Rounds alternate the order, A B, B A, A B, ..., package by package, so a
// machine that warms up, throttles or gets busier during the run drifts
// both sides alike instead of reading as a regression of whichever ran
// second. Each binary runs with -test.count=1 per round for the same reason:
// ten samples taken back to back would share one moment of the machine.
func (tc Toolchain) Interleave(ctx context.Context, a, b Arm, cfg BenchConfig, aOut, bOut io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	type pkgPair struct{ a, b *TestBinary }
	var order []string
	pairs := map[string]*pkgPair{}
	add := func(bins []TestBinary, isA bool) {
		for i := range bins {
			p := pairs[bins[i].ImportPath]
			if p == nil {
				p = &pkgPair{}
				pairs[bins[i].ImportPath] = p
				order = append(order, bins[i].ImportPath)
			}
			if isA {
				p.a = &bins[i]
			} else {
				p.b = &bins[i]
			}
		}
	}
	add(a.Binaries, true)
	add(b.Binaries, false)

	type job struct {
		bin *TestBinary
		env []string
		out io.Writer
	}
	for round := range cfg.Count {
		start := time.Now()
		for _, pkg := range order {
			p := pairs[pkg]
			jobs := []job{{p.a, a.Env, aOut}, {p.b, b.Env, bOut}}
			swap := round%2 == 1
			if cfg.Shuffle != nil {
				swap = cfg.Shuffle.IntN(2) == 1
			}
			if swap {
				jobs[0], jobs[1] = jobs[1], jobs[0]
			}
			for _, j := range jobs {
				if j.bin == nil {
					continue
				}
				if err := tc.runOnce(ctx, *j.bin, j.env, cfg, j.out); err != nil {
					return err
				}
			}
		}
		tc.logf("round %d/%d done in %s", round+1, cfg.Count, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func (tc Toolchain) runOnce(ctx context.Context, bin TestBinary, env []string, cfg BenchConfig, out io.Writer) error {
	args := []string{"-test.run=^$", "-test.bench=" + cfg.Bench, "-test.benchmem", "-test.count=1"}
	if cfg.Benchtime != "" {
		args = append(args, "-test.benchtime="+cfg.Benchtime)
	}
	stdout, err := tc.command(ctx, bin.Dir, env, bin.Path, args...)
	if err != nil {
		return fmt.Errorf("benchmarks of %s failed: %w", bin.ImportPath, err)
	}
	_, err = out.Write(stdout)
	return err
}

// Worktree is a detached checkout of one commit in a temporary directory.
type Worktree struct {
	Dir    string
	Commit string
	repo   string
	tmp    string
	tc     Toolchain
}

// AddWorktree checks out ref as a detached worktree of the repository that
// holds repoDir.
func (tc Toolchain) AddWorktree(ctx context.Context, repoDir, ref string) (*Worktree, error) {
	out, err := tc.command(ctx, repoDir, nil, "git", "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil {
		return nil, fmt.Errorf("unknown git ref %q: %w", ref, err)
	}
	commit := strings.TrimSpace(string(out))
	tmp, err := os.MkdirTemp("", "compare-bench-")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "tree")
	if _, err := tc.command(ctx, repoDir, nil, "git", "worktree", "add", "--detach", dir, commit); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	tc.logf("checked out %s (%s) in %s", ref, commit[:min(12, len(commit))], dir)
	return &Worktree{Dir: dir, Commit: commit, repo: repoDir, tmp: tmp, tc: tc}, nil
}

// Remove deletes the worktree and its registration. It runs even after ctx
// is canceled: an interrupted run must not leave worktrees behind.
func (w *Worktree) Remove(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_, err := w.tc.command(ctx, w.repo, nil, "git", "worktree", "remove", "--force", w.Dir)
	if rmErr := os.RemoveAll(w.tmp); err == nil {
		err = rmErr
	}
	// prune drops the registration even if remove failed halfway.
	if _, pruneErr := w.tc.command(ctx, w.repo, nil, "git", "worktree", "prune"); err == nil {
		err = pruneErr
	}
	return err
}

// RunOptions configure Run.
type RunOptions struct {
	// Dir is where the command was started; patterns and refs are
	// resolved from it. It must be inside a git work tree.
	Dir string
	// Base is the baseline ref. Head is the PR ref; "" means Dir's
	// working tree as it is, uncommitted changes included.
	Base, Head string
	Packages   []string
	Bench      BenchConfig
	// OutDir receives base.txt and head.txt.
	OutDir string
	// Instr, when set, measures instructions (MeasureInstructions)
	// instead of timing (Interleave); Bench is then unused.
	Instr *InstrConfig
}

// Run builds both commits, runs them interleaved, saves the results and
// compares them.
func (tc Toolchain) Run(ctx context.Context, ro RunOptions, opts Options) (rep *Report, err error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if ro.Instr != nil {
		if err := ro.Instr.validate(); err != nil {
			return nil, err
		}
	} else if err := ro.Bench.validate(); err != nil {
		return nil, err
	}
	if len(ro.Packages) == 0 {
		return nil, errors.New("no packages given")
	}
	top, err := tc.command(ctx, ro.Dir, nil, "git", "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("not in a git work tree: %w", err)
	}
	topDir := strings.TrimSpace(string(top))
	rel, err := relInside(topDir, ro.Dir)
	if err != nil {
		return nil, err
	}

	tmp, err := os.MkdirTemp("", "compare-bench-bin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	baseTree, err := tc.AddWorktree(ctx, topDir, ro.Base)
	if err != nil {
		return nil, err
	}
	defer func() {
		if rmErr := baseTree.Remove(ctx); rmErr != nil && err == nil {
			err = rmErr
		}
	}()
	headDir := ro.Dir
	if ro.Head != "" {
		headTree, err := tc.AddWorktree(ctx, topDir, ro.Head)
		if err != nil {
			return nil, err
		}
		defer func() {
			if rmErr := headTree.Remove(ctx); rmErr != nil && err == nil {
				err = rmErr
			}
		}()
		headDir = filepath.Join(headTree.Dir, rel)
	}

	baseBins, err := tc.Build(ctx, filepath.Join(baseTree.Dir, rel), ro.Packages, filepath.Join(tmp, "base"))
	if err != nil {
		return nil, fmt.Errorf("building base %s: %w", ro.Base, err)
	}
	headBins, err := tc.Build(ctx, headDir, ro.Packages, filepath.Join(tmp, "head"))
	if err != nil {
		return nil, fmt.Errorf("building head: %w", err)
	}
	if len(headBins) == 0 && len(baseBins) == 0 {
		return nil, fmt.Errorf("no test packages match %q: %w", ro.Packages, ErrNoResults)
	}

	var baseOut, headOut bytes.Buffer
	if ro.Instr != nil {
		err = tc.MeasureInstructions(ctx, Arm{Binaries: baseBins}, Arm{Binaries: headBins}, *ro.Instr, &baseOut, &headOut)
	} else {
		err = tc.Interleave(ctx, Arm{Binaries: baseBins}, Arm{Binaries: headBins}, ro.Bench, &baseOut, &headOut)
	}
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(ro.OutDir, 0o755); err != nil {
		return nil, err
	}
	basePath, headPath := filepath.Join(ro.OutDir, "base.txt"), filepath.Join(ro.OutDir, "head.txt")
	if err := os.WriteFile(basePath, baseOut.Bytes(), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(headPath, headOut.Bytes(), 0o644); err != nil {
		return nil, err
	}
	opts.AllowEmptyBaseline = true
	return Compare(Input{Name: basePath, Data: baseOut.Bytes()}, Input{Name: headPath, Data: headOut.Bytes()}, opts)
}

// relInside returns dir relative to top, which must contain it.
func relInside(top, dir string) (string, error) {
	// Resolve symlinks on both sides: git prints the real path, while
	// the working directory may be reached through a link (/tmp on macOS).
	realTop, err := filepath.EvalSymlinks(top)
	if err != nil {
		return "", err
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(realTop, realDir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is not inside the work tree %s", dir, top)
	}
	return rel, nil
}

// RepeatOptions configure Repeat.
type RepeatOptions struct {
	Runs  int
	Bench BenchConfig
	// EnvA and EnvB are added to each side's environment. Both empty is
	// an A/A test; a knob in EnvB measures power.
	EnvA, EnvB []string
	// Instr, when set, compares instruction counts instead of times.
	Instr *InstrConfig
}

// RepeatResult is the outcome of Repeat.
type RepeatResult struct {
	Runs   int
	Failed int
	// Tripped counts, per "pkg name", the runs in which that benchmark
	// was a regression.
	Tripped map[string]int
	Reports []*Report
	// Other is the same runs judged by the other analysis (paired if
	// opts was unpaired, and the reverse), for wall-clock runs only:
	// both analyses of the same samples, so they are compared on
	// exactly the same conditions.
	Other *RepeatResult
}

func (r *RepeatResult) add(rep *Report) []string {
	r.Reports = append(r.Reports, rep)
	if rep.Failed {
		r.Failed++
	}
	var tripped []string
	for _, b := range rep.Benchmarks {
		if b.Status == StatusRegression {
			r.Tripped[b.Pkg+" "+b.Name]++
			tripped = append(tripped, b.Name)
		}
	}
	return tripped
}

// Repeat runs the same binaries as both sides of runs full interleaved
// comparisons and counts how many would fail the gate.
func (tc Toolchain) Repeat(ctx context.Context, bins []TestBinary, ro RepeatOptions, opts Options) (*RepeatResult, error) {
	if ro.Runs < 1 {
		return nil, fmt.Errorf("runs must be at least 1, got %d", ro.Runs)
	}
	if len(bins) == 0 {
		return nil, fmt.Errorf("no test binaries: %w", ErrNoResults)
	}
	res := &RepeatResult{Runs: ro.Runs, Tripped: map[string]int{}}
	if ro.Instr == nil {
		res.Other = &RepeatResult{Runs: ro.Runs, Tripped: map[string]int{}}
	}
	for i := range ro.Runs {
		var aOut, bOut bytes.Buffer
		var err error
		if ro.Instr != nil {
			err = tc.MeasureInstructions(ctx, Arm{bins, ro.EnvA}, Arm{bins, ro.EnvB}, *ro.Instr, &aOut, &bOut)
		} else {
			err = tc.Interleave(ctx, Arm{bins, ro.EnvA}, Arm{bins, ro.EnvB}, ro.Bench, &aOut, &bOut)
		}
		if err != nil {
			return nil, err
		}
		a, b := Input{Name: "A", Data: aOut.Bytes()}, Input{Name: "B", Data: bOut.Bytes()}
		rep, err := Compare(a, b, opts)
		if err != nil {
			return nil, err
		}
		tripped := res.add(rep)
		other := ""
		if res.Other != nil {
			o := opts
			o.Paired = !opts.Paired
			orep, err := Compare(a, b, o)
			if err != nil {
				return nil, err
			}
			res.Other.add(orep)
			name := "paired"
			if opts.Paired {
				name = "unpaired"
			}
			other = fmt.Sprintf(" [%s: %s]", name, orep.Summary())
		}
		tc.logf("run %d/%d: %s %s%s", i+1, ro.Runs, rep.Summary(), strings.Join(tripped, " "), other)
	}
	return res, nil
}
