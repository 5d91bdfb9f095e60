package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/bun13/bun13/compare"
)

// Exit statuses.
const (
	exitOK         = 0
	exitRegression = 1
	exitUsage      = 2
)

// usageError marks errors that are the caller's to fix: exit 2.
type usageError struct{ error }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// run is the whole command; main only passes the process's streams and
// arguments and exits with the status it returns.
func run(stdout, stderr io.Writer, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var (
		failed bool
		err    error
	)
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "run":
		failed, err = cmdRun(ctx, stdout, stderr, args[1:])
	case "aa":
		failed, err = cmdAA(ctx, stdout, stderr, args[1:])
	case "power":
		failed, err = cmdPower(ctx, stdout, stderr, args[1:])
	default:
		failed, err = cmdCompare(stdout, stderr, args)
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "compare-bench: %v\n", err)
		return exitUsage
	case failed:
		return exitRegression
	}
	return exitOK
}

// gateFlags are the comparison flags every form accepts.
type gateFlags struct {
	opts   compare.Options
	format string
}

func addGateFlags(fs *flag.FlagSet) *gateFlags {
	g := &gateFlags{opts: compare.DefaultOptions()}
	fs.Float64Var(&g.opts.ToleranceNs, "tolerance-ns", 0, "ignore slowdowns of at most `X` ns/op")
	fs.Float64Var(&g.opts.TolerancePct, "tolerance-pct", 0, "ignore slowdowns of at most `P` percent (also applies to B/op)")
	fs.Float64Var(&g.opts.Alpha, "alpha", g.opts.Alpha, "family-wise false-failure rate `A`")
	fs.BoolVar(&g.opts.AllowMissing, "allow-missing", false, "pass even if benchmarks of the baseline are missing from the PR")
	fs.StringVar(&g.opts.Filter, "filter", "", "compare only results matching benchproc filter `EXPR`")
	fs.StringVar(&g.format, "format", "text", "output `format`: text, markdown or json")
	fs.Float64Var(&g.opts.ToleranceInstr, "tolerance-instr", g.opts.ToleranceInstr, "ignore increases of at most `X` instr/op (plus --tolerance-pct)")
	fs.BoolVar(&g.opts.Paired, "paired", false, "judge wall-clock results with the paired test (Wilcoxon signed-rank on per-round log ratios) instead of the U test")
	fs.Var(metricFlag{&g.opts}, "metric", "`UNIT=DIR`: gate UNIT with DIR higher or lower is better, or ignore it (repeatable)")
	return g
}

// metricFlag fills Options.Metrics from repeated --metric UNIT=DIR.
type metricFlag struct{ opts *compare.Options }

func (m metricFlag) String() string {
	if m.opts == nil {
		return ""
	}
	var parts []string
	for u, d := range m.opts.Metrics {
		parts = append(parts, u+"="+string(d))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (m metricFlag) Set(s string) error {
	i := strings.LastIndex(s, "=")
	if i <= 0 {
		return fmt.Errorf("want UNIT=higher|lower|ignore, got %q", s)
	}
	d, err := compare.ParseDirection(s[i+1:])
	if err != nil {
		return err
	}
	if m.opts.Metrics == nil {
		m.opts.Metrics = map[string]compare.Direction{}
	}
	m.opts.Metrics[compare.NormalizeUnit(s[:i])] = d
	return nil
}

// measureFlags choose between wall-clock and instruction mode.
type measureFlags struct {
	measure string
	instr   compare.InstrConfig
}

func addMeasureFlags(fs *flag.FlagSet, m *measureFlags) {
	m.instr = compare.DefaultInstrConfig()
	fs.StringVar(&m.measure, "measure", "time", "`what` to measure: time (wall clock, base and head interleaved) or instructions (valgrind callgrind)")
	fs.IntVar(&m.instr.N1, "n1", m.instr.N1, "instructions: the smaller iteration count `N`")
	fs.IntVar(&m.instr.N2, "n2", 0, "instructions: the larger iteration count `N` (0: chosen per benchmark from --instr-budget)")
	fs.Float64Var(&m.instr.Budget, "instr-budget", m.instr.Budget, "instructions: aim for `I` instructions between the two counts when choosing --n2")
	fs.IntVar(&m.instr.Repeats, "repeat", m.instr.Repeats, "instructions: measure each side `K` times")
	fs.IntVar(&m.instr.Jobs, "jobs", m.instr.Jobs, "instructions: run `J` benchmarks at once")
}

// config returns the instruction configuration, or nil for time.
func (m *measureFlags) config(bench string) (*compare.InstrConfig, error) {
	switch m.measure {
	case "time":
		return nil, nil
	case "instructions":
		c := m.instr
		c.Bench = bench
		return &c, nil
	}
	return nil, usagef("--measure must be time or instructions, got %q", m.measure)
}

func (g *gateFlags) check() error {
	switch g.format {
	case "text", "markdown", "json":
		return nil
	}
	return usagef("--format must be text, markdown or json, got %q", g.format)
}

func (g *gateFlags) write(w io.Writer, rep *compare.Report) error {
	switch g.format {
	case "markdown":
		return rep.WriteMarkdown(w)
	case "json":
		return rep.WriteJSON(w)
	}
	return rep.WriteText(w)
}

func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\nSee \"go doc github.com/bun13/bun13/compare/cmd/compare-bench\" for the manual.\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; any failure other than -h is a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}

func cmdCompare(stdout, stderr io.Writer, args []string) (bool, error) {
	fs := newFlagSet("compare-bench", "compare-bench --baseline FILE --pr FILE [flags]\n       compare-bench run|aa [flags] PACKAGES...", stderr)
	baseline := fs.String("baseline", "", "baseline results `FILE` (go test -bench or -json output)")
	pr := fs.String("pr", "", "PR results `FILE`")
	g := addGateFlags(fs)
	if err := parse(fs, args); err != nil {
		return false, err
	}
	if err := g.check(); err != nil {
		return false, err
	}
	switch {
	case *baseline == "" || *pr == "":
		fs.Usage()
		return false, usagef("both --baseline and --pr are required")
	case fs.NArg() > 0:
		return false, usagef("unexpected arguments %q (subcommands are run and aa)", fs.Args())
	}
	var inputs [2]compare.Input
	for i, path := range []string{*baseline, *pr} {
		data, err := os.ReadFile(path)
		if err != nil {
			return false, err
		}
		inputs[i] = compare.Input{Name: path, Data: data}
	}
	rep, err := compare.Compare(inputs[0], inputs[1], g.opts)
	if err != nil {
		return false, err
	}
	return rep.Failed, g.write(stdout, rep)
}

// benchFlags are shared by run, aa and power.
type benchFlags struct {
	count     int
	bench     string
	benchtime string
	order     string
	seed      uint64
	rng       *rand.Rand
}

func addBenchFlags(fs *flag.FlagSet, b *benchFlags, countUsage string) {
	if countUsage != "" {
		fs.IntVar(&b.count, "count", 10, countUsage)
	}
	fs.StringVar(&b.bench, "bench", "", "run benchmarks matching `REGEX` (required)")
	fs.StringVar(&b.benchtime, "benchtime", "", "per-benchmark run time `T`, as go test -benchtime (default the testing package's 1s)")
	fs.StringVar(&b.order, "order", "random", "`order` of base and head inside each round: random or alternate (A B, B A, ...)")
	fs.Uint64Var(&b.seed, "seed", 0, "`seed` of the random order (0: from the clock, printed)")
}

func (b *benchFlags) config(count int) (compare.BenchConfig, error) {
	if b.bench == "" {
		return compare.BenchConfig{}, usagef("--bench is required")
	}
	if count < 1 {
		return compare.BenchConfig{}, usagef("--count must be at least 1")
	}
	cfg := compare.BenchConfig{Bench: b.bench, Benchtime: b.benchtime, Count: count}
	switch b.order {
	case "alternate":
	case "random":
		if b.rng == nil {
			if b.seed == 0 {
				b.seed = uint64(time.Now().UnixNano())
			}
			b.rng = rand.New(rand.NewPCG(b.seed, 0))
		}
		cfg.Shuffle = b.rng
	default:
		return compare.BenchConfig{}, usagef("--order must be random or alternate, got %q", b.order)
	}
	return cfg, nil
}

func cmdRun(ctx context.Context, stdout, stderr io.Writer, args []string) (bool, error) {
	fs := newFlagSet("compare-bench run", "compare-bench run --base REF [--head REF] --count N --bench REGEX [--benchtime T] [--out DIR] [flags] PACKAGES...", stderr)
	base := fs.String("base", "", "baseline git `REF` (required)")
	head := fs.String("head", "", "PR git `REF` (default: the working tree as it is)")
	out := fs.String("out", "", "`DIR` for base.txt and head.txt (default: a new temporary directory)")
	var bf benchFlags
	addBenchFlags(fs, &bf, "run each binary `N` times, interleaved")
	var mf measureFlags
	addMeasureFlags(fs, &mf)
	g := addGateFlags(fs)
	if err := parse(fs, args); err != nil {
		return false, err
	}
	if err := g.check(); err != nil {
		return false, err
	}
	cfg, err := bf.config(bf.count)
	if err != nil {
		return false, err
	}
	instr, err := mf.config(bf.bench)
	if err != nil {
		return false, err
	}
	if *base == "" {
		return false, usagef("--base is required")
	}
	if instr == nil && cfg.Shuffle != nil {
		fmt.Fprintf(stderr, "compare-bench: order seed %d (--seed reproduces it)\n", bf.seed)
	}
	if fs.NArg() == 0 {
		return false, usagef("no packages given")
	}
	outDir := *out
	if outDir == "" {
		if outDir, err = os.MkdirTemp("", "compare-bench-out-"); err != nil {
			return false, err
		}
		fmt.Fprintf(stderr, "compare-bench: results go to %s\n", outDir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return false, err
	}
	tc := compare.Toolchain{Log: prefixWriter{stderr}}
	rep, err := tc.Run(ctx, compare.RunOptions{
		Dir: wd, Base: *base, Head: *head, Packages: fs.Args(), Bench: cfg, OutDir: outDir, Instr: instr,
	}, g.opts)
	if err != nil {
		return false, err
	}
	return rep.Failed, g.write(stdout, rep)
}

// prefixWriter marks progress lines as ours in a CI log full of go output.
type prefixWriter struct{ w io.Writer }

func (p prefixWriter) Write(b []byte) (int, error) {
	lines := strings.SplitAfter(string(b), "\n")
	var sb strings.Builder
	for _, l := range lines {
		if l != "" {
			sb.WriteString("compare-bench: " + l)
		}
	}
	if _, err := io.WriteString(p.w, sb.String()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// buildHere builds the packages of the current tree once, for aa and power.
func buildHere(ctx context.Context, tc compare.Toolchain, pkgs []string) ([]compare.TestBinary, func(), error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, nil, err
	}
	tmp, err := os.MkdirTemp("", "compare-bench-bin-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	bins, err := tc.Build(ctx, wd, pkgs, filepath.Join(tmp, "bin"))
	if err == nil && len(bins) == 0 {
		err = usagef("no test packages match %q", pkgs)
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return bins, cleanup, nil
}

func cmdAA(ctx context.Context, stdout, stderr io.Writer, args []string) (bool, error) {
	fs := newFlagSet("compare-bench aa", "compare-bench aa --count N --bench REGEX --runs K [--benchtime T] [flags] PACKAGES...", stderr)
	runs := fs.Int("runs", 30, "number of complete A/A comparisons `K`")
	var bf benchFlags
	addBenchFlags(fs, &bf, "samples per side `N` in each comparison")
	var mf measureFlags
	addMeasureFlags(fs, &mf)
	g := addGateFlags(fs)
	if err := parse(fs, args); err != nil {
		return false, err
	}
	cfg, err := bf.config(bf.count)
	if err != nil {
		return false, err
	}
	instr, err := mf.config(bf.bench)
	if err != nil {
		return false, err
	}
	if *runs < 1 {
		return false, usagef("--runs must be at least 1")
	}
	if fs.NArg() == 0 {
		return false, usagef("no packages given")
	}
	tc := compare.Toolchain{Log: prefixWriter{stderr}}
	bins, cleanup, err := buildHere(ctx, tc, fs.Args())
	if err != nil {
		return false, err
	}
	defer cleanup()
	res, err := tc.Repeat(ctx, bins, compare.RepeatOptions{Runs: *runs, Bench: cfg, Instr: instr}, g.opts)
	if err != nil {
		return false, err
	}
	rate := float64(res.Failed) / float64(res.Runs)
	benchmarks := 0
	if len(res.Reports) > 0 {
		benchmarks = len(res.Reports[0].Benchmarks)
	}
	if instr != nil {
		fmt.Fprintf(stdout, "A/A: %d runs of %d benchmarks, instructions, --repeat %d each side, alpha %v, tolerance %v instr/op\n", res.Runs, benchmarks, instr.Repeats, g.opts.Alpha, g.opts.ToleranceInstr)
		writeSpread(stdout, res.Reports)
	} else {
		fmt.Fprintf(stdout, "A/A: %d runs of %d benchmarks, -count %d each side, alpha %v\n", res.Runs, benchmarks, cfg.Count, g.opts.Alpha)
	}
	fmt.Fprintf(stdout, "false positives: %d/%d runs (%.1f%%)\n", res.Failed, res.Runs, 100*rate)
	writeTripped(stdout, res.Tripped)
	if res.Other != nil {
		name := "paired (Wilcoxon signed-rank)"
		if g.opts.Paired {
			name = "unpaired (Mann-Whitney U)"
		}
		fmt.Fprintf(stdout, "same runs, %s: false positives %d/%d runs (%.1f%%)\n", name, res.Other.Failed, res.Other.Runs, 100*float64(res.Other.Failed)/float64(res.Other.Runs))
		writeTripped(stdout, res.Other.Tripped)
	}
	if instr == nil {
		fmt.Fprintf(stderr, "compare-bench: order seed %d\n", bf.seed)
	}
	return rate > g.opts.Alpha, nil
}

func writeTripped(w io.Writer, tripped map[string]int) {
	if len(tripped) == 0 {
		return
	}
	names := make([]string, 0, len(tripped))
	for n := range tripped {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "tripped:")
	for _, n := range names {
		fmt.Fprintf(w, "  %s: %d\n", n, tripped[n])
	}
}

// envKey is an environment variable name.
var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// cmdPower is the undocumented experiment behind the power table of
// compare/README.md: like aa, but the B side gets an environment knob
// (compare/testdata/knob reads KNOB_EXTRA_NS and KNOB_EXTRA_PCT), and it
// sweeps -count.
func cmdPower(ctx context.Context, stdout, stderr io.Writer, args []string) (bool, error) {
	fs := newFlagSet("compare-bench power", "compare-bench power --effect LABEL=KEY=VALUE... [--counts 6,10,20] [--trials 10] --bench REGEX [--benchtime T] [flags] PACKAGES...", stderr)
	counts := fs.String("counts", "6,10,20", "comma-separated `list` of -count values")
	trials := fs.Int("trials", 10, "comparisons `K` per effect and count")
	var effects multiFlag
	fs.Var(&effects, "effect", "`LABEL=KEY=VALUE` environment for the B side (repeatable)")
	var bf benchFlags
	addBenchFlags(fs, &bf, "")
	var mf measureFlags
	addMeasureFlags(fs, &mf)
	g := addGateFlags(fs)
	if err := parse(fs, args); err != nil {
		return false, err
	}
	instr, err := mf.config(bf.bench)
	if err != nil {
		return false, err
	}
	if instr != nil {
		// Instruction mode has no -count: sweep --repeat instead.
		*counts = strconv.Itoa(instr.Repeats)
	}
	var cs []int
	for _, s := range strings.Split(*counts, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 {
			return false, usagef("bad --counts %q", *counts)
		}
		cs = append(cs, c)
	}
	type effect struct{ label, env string }
	var es []effect
	for _, e := range effects {
		label, env, ok := strings.Cut(e, "=")
		key, _, hasValue := strings.Cut(env, "=")
		if !ok || !hasValue || !envKey.MatchString(key) {
			return false, usagef("bad --effect %q, want LABEL=KEY=VALUE (LABEL without '=', KEY an environment variable name)", e)
		}
		es = append(es, effect{label, env})
	}
	if len(es) == 0 {
		return false, usagef("at least one --effect is required")
	}
	if fs.NArg() == 0 {
		return false, usagef("no packages given")
	}
	if _, err := bf.config(1); err != nil {
		return false, err
	}
	tc := compare.Toolchain{Log: prefixWriter{stderr}}
	bins, cleanup, err := buildHere(ctx, tc, fs.Args())
	if err != nil {
		return false, err
	}
	defer cleanup()

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	unit, countName := compare.UnitTime, "-count"
	if instr != nil {
		unit, countName = compare.UnitInstr, "--repeat"
	}
	analysis, other := "unpaired", "paired"
	if g.opts.Paired {
		analysis, other = other, analysis
	}
	if instr != nil {
		fmt.Fprintf(tw, "effect\tenv (B side)\t%s\tdetected\trate\tobserved Δ %s (median over trials)\tbenchmarks tripped\n", countName, unit)
	} else {
		fmt.Fprintf(tw, "effect\tenv (B side)\t%s\tdetected (%s)\trate\tdetected (%s)\trate\tobserved Δ %s (median over trials)\ttripped (%s)\ttripped (%s)\n", countName, analysis, other, unit, analysis, other)
	}
	for _, e := range es {
		for _, c := range cs {
			cfg, _ := bf.config(c)
			res, err := tc.Repeat(ctx, bins, compare.RepeatOptions{Runs: *trials, Bench: cfg, EnvB: []string{e.env}, Instr: instr}, g.opts)
			if err != nil {
				return false, err
			}
			row := fmt.Sprintf("%s\t%s\t%d\t%d/%d\t%.0f%%\t%s\t%s\n", e.label, e.env, c, res.Failed, res.Runs,
				100*float64(res.Failed)/float64(res.Runs), observedDeltas(res.Reports, unit), trippedList(res.Tripped))
			if res.Other != nil {
				o := res.Other
				row = fmt.Sprintf("%s\t%s\t%d\t%d/%d\t%.0f%%\t%d/%d\t%.0f%%\t%s\t%s\t%s\n", e.label, e.env, c, res.Failed, res.Runs,
					100*float64(res.Failed)/float64(res.Runs), o.Failed, o.Runs, 100*float64(o.Failed)/float64(o.Runs),
					observedDeltas(res.Reports, unit), trippedList(res.Tripped), trippedList(o.Tripped))
			}
			// The table is aligned once at the end; progress goes to
			// the log as each row completes.
			tc.Log.Write([]byte(strings.ReplaceAll(row, "\t", " ")))
			fmt.Fprint(tw, row)
		}
	}
	return false, tw.Flush()
}

// observedDeltas is the median over trials of each benchmark's change of
// median ns/op: it shows what the knob really added on this machine.
func observedDeltas(reps []*compare.Report, unit string) string {
	type acc struct{ ns, pct []float64 }
	var order []string
	by := map[string]*acc{}
	for _, r := range reps {
		for _, b := range r.Benchmarks {
			for _, m := range b.Metrics {
				if m.Unit != unit {
					continue
				}
				a := by[b.Name]
				if a == nil {
					a = &acc{}
					by[b.Name] = a
					order = append(order, b.Name)
				}
				a.ns = append(a.ns, m.PR.Median-m.Base.Median)
				if m.DeltaPct != nil {
					a.pct = append(a.pct, *m.DeltaPct)
				}
			}
		}
	}
	var parts []string
	for _, n := range order {
		parts = append(parts, fmt.Sprintf("%s %+.3g (%+.2f%%)", n, median(by[n].ns), median(by[n].pct)))
	}
	return strings.Join(parts, ", ")
}

func trippedList(t map[string]int) string {
	if len(t) == 0 {
		return "-"
	}
	var parts []string
	for n, c := range t {
		parts = append(parts, fmt.Sprintf("%s×%d", n[strings.LastIndex(n, " ")+1:], c))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// writeSpread prints, per benchmark, the largest spread of repeats and the
// largest |Δ| seen over the runs of an instruction-mode experiment: how far
// the measure is from deterministic on this machine.
func writeSpread(w io.Writer, reps []*compare.Report) {
	type acc struct{ spread, delta, value float64 }
	var order []string
	by := map[string]*acc{}
	for _, r := range reps {
		for _, b := range r.Benchmarks {
			for _, m := range b.Metrics {
				if m.Unit != compare.UnitInstr {
					continue
				}
				k := b.Pkg + " " + b.Name
				a := by[k]
				if a == nil {
					a = &acc{value: m.Base.Median}
					by[k] = a
					order = append(order, k)
				}
				if m.Spread != nil {
					a.spread = max(a.spread, *m.Spread)
				}
				a.delta = max(a.delta, math.Abs(m.PR.Median-m.Base.Median))
			}
		}
	}
	for _, k := range order {
		a := by[k]
		fmt.Fprintf(w, "  %s: %.4f instr/op, largest spread of repeats %.4f, largest |Δ| %.4f\n", k, a.value, a.spread, a.delta)
	}
}
