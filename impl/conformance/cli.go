// Package conformance is `bun13 conformance`: it runs the SPEC's contract
// against another implementation of the format through that
// implementation's CLI (SPEC section 7), exports the same cases as files
// with their expected results, and fuzzes an implementation
// differentially against the reference. See README.md beside this file.
//
// The cases and the reference's answers are in package cases, running and
// comparing in package runner, fuzzing and shrinking in package difffuzz.
package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/bun13/bun13/impl/conformance/cases"
	"github.com/bun13/bun13/impl/conformance/difffuzz"
	"github.com/bun13/bun13/impl/conformance/runner"
)

// Exit statuses.
const (
	ExitAgree    = 0 // every case agrees
	ExitDisagree = 1 // some case disagrees
	ExitUsage    = 2 // wrong flags, or the implementation cannot be run
)

// Env is what a command may touch.
type Env struct {
	Stdout, Stderr io.Writer
	// Environ is passed to the implementation unchanged (os.Environ()).
	Environ []string
}

// lookup reads a variable from e.Environ.
func (e *Env) lookup(k string) (string, bool) {
	for i := len(e.Environ) - 1; i >= 0; i-- {
		if name, v, ok := strings.Cut(e.Environ[i], "="); ok && name == k {
			return v, true
		}
	}
	return "", false
}

// Usage is the command's help.
const Usage = `usage:
  bun13 conformance run --impl 'CMD [ARGS...]' [--seed N] [--count N] [--only lockfile,config,frame,headers]
                        [--format text|json] [--keep DIR] [--jobs N] [--timeout D]
  bun13 conformance export [--seed N] [--count N] [--only ...] DIR
  bun13 conformance fuzz --impl 'CMD [ARGS...]' [--time 60s] [--seed N] [--keep DIR] [--max-findings N] [--iterations N] [--jobs N]

The implementation is run as the SPEC's CLI: CMD lockfile decode FILE,
CMD lockfile encode -o FILE JSON-FILE, CMD config validate --file F --json,
CMD frame decode HEX, CMD headers validate 'Name: value'...
Exit status: 0 everything agrees, 1 a disagreement, 2 bad flags or the
implementation cannot be run.
`

type usageErr struct{ msg string }

func (u usageErr) Error() string { return u.msg }

func usagef(f string, a ...any) error { return usageErr{fmt.Sprintf(f, a...)} }

// Main runs `bun13 conformance ARGS` and returns the exit status.
func Main(ctx context.Context, e *Env, args []string) int {
	code, err := dispatch(ctx, e, args)
	if err != nil {
		var u usageErr
		if errors.As(err, &u) {
			fmt.Fprintf(e.Stderr, "bun13 conformance: %v\n%s", err, Usage)
		} else {
			fmt.Fprintf(e.Stderr, "bun13 conformance: %v\n", err)
		}
		return ExitUsage
	}
	return code
}

func dispatch(ctx context.Context, e *Env, args []string) (int, error) {
	if len(args) == 0 {
		return 0, usagef("want run, export or fuzz")
	}
	switch args[0] {
	case "run":
		return runCmd(ctx, e, args[1:])
	case "export":
		return exportCmd(e, args[1:])
	case "fuzz":
		return fuzzCmd(ctx, e, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(e.Stdout, Usage)
		return 0, nil
	}
	return 0, usagef("unknown subcommand %q", args[0])
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses flags anywhere among the arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

type genFlags struct {
	seed  *uint64
	count *int
	only  *string
}

func addGenFlags(fs *flag.FlagSet) genFlags {
	return genFlags{
		seed:  fs.Uint64("seed", 1, "seed of the random cases"),
		count: fs.Int("count", 100, "random cases per area, beside the fixed ones"),
		only:  fs.String("only", "", "areas: lockfile, config, frame, headers (comma-separated; default all)"),
	}
}

func (g genFlags) generate(e *Env) ([]cases.Case, error) {
	areas, err := cases.ParseOnly(*g.only)
	if err != nil {
		return nil, usagef("%v", err)
	}
	if *g.count < 0 {
		return nil, usagef("--count must be at least 0")
	}
	return cases.Generate(cases.Options{Seed: *g.seed, Count: *g.count, Areas: areas, Lookup: e.lookup})
}

func implFlag(e *Env, s string, timeout time.Duration) (*runner.Impl, error) {
	if s == "" {
		return nil, usagef("--impl 'CMD [ARGS...]' is required")
	}
	argv, err := runner.SplitCommand(s)
	if err != nil {
		return nil, usagef("--impl: %v", err)
	}
	// Commands run in a directory of their own: find the program now,
	// as the shell would from here.
	if strings.Contains(argv[0], "/") {
		if argv[0], err = filepath.Abs(argv[0]); err != nil {
			return nil, err
		}
	} else if argv[0], err = exec.LookPath(argv[0]); err != nil {
		return nil, fmt.Errorf("%w: %v", runner.ErrCannotRun, err)
	}
	return &runner.Impl{Argv: argv, Env: e.Environ, Timeout: timeout}, nil
}

func runCmd(ctx context.Context, e *Env, args []string) (int, error) {
	fs := newFlags("run")
	impl := fs.String("impl", "", "the implementation's command line")
	g := addGenFlags(fs)
	format := fs.String("format", "text", "text or json")
	keep := fs.String("keep", "", "directory for the inputs of disagreements (default: a new temp dir)")
	jobs := fs.Int("jobs", 0, "commands run at once (default: the number of CPUs)")
	timeout := fs.Duration("timeout", 20*time.Second, "time limit of one command")
	pos, err := parse(fs, args)
	if err != nil {
		return 0, err
	}
	if len(pos) != 0 {
		return 0, usagef("run takes no arguments, got %q", pos)
	}
	if *format != "text" && *format != "json" {
		return 0, usagef("--format %q: want text or json", *format)
	}
	im, err := implFlag(e, *impl, *timeout)
	if err != nil {
		return 0, err
	}
	cs, err := g.generate(e)
	if err != nil {
		return 0, err
	}
	rep, err := Run(ctx, im, cs, *keep, *jobs)
	if err != nil {
		return 0, err
	}
	rep.Seed, rep.Count = *g.seed, *g.count
	if *format == "json" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintf(e.Stdout, "%s\n", b)
	} else {
		rep.WriteText(e.Stdout)
	}
	if len(rep.Disagreements) > 0 {
		return ExitDisagree, nil
	}
	return ExitAgree, nil
}

// Run runs cs against im. Inputs of disagreements are saved under keep,
// or a new temp dir when keep is "" (named in the report; none is made
// when everything agrees).
func Run(ctx context.Context, im *runner.Impl, cs []cases.Case, keep string, jobs int) (*Report, error) {
	scratch, err := os.MkdirTemp("", "bun13-conformance-run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	start := time.Now()
	outs, err := runner.RunAll(ctx, im, cs, scratch, jobs)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	disagree := 0
	for _, o := range outs {
		if !o.Agree {
			disagree++
		}
	}
	if disagree > 0 && keep == "" {
		if keep, err = os.MkdirTemp("", "bun13-conformance-"); err != nil {
			return nil, err
		}
	}
	rep, err := summarize(outs, keep)
	if err != nil {
		return nil, err
	}
	rep.Impl, rep.Cases, rep.Seconds = im.Argv, len(cs), seconds(elapsed)
	if disagree > 0 {
		rep.Kept = keep
	}
	return &rep, nil
}

func fuzzCmd(ctx context.Context, e *Env, args []string) (int, error) {
	fs := newFlags("fuzz")
	impl := fs.String("impl", "", "the implementation's command line")
	dur := fs.Duration("time", 60*time.Second, "how long to fuzz")
	seed := fs.Uint64("seed", 0, "seed (default: from the clock, printed)")
	keep := fs.String("keep", "", "directory for the shrunk inputs (default: a new temp dir)")
	maxf := fs.Int("max-findings", 10, "stop after this many distinct disagreements (0: never)")
	iters := fs.Uint64("iterations", 0, "stop after this many iterations (0: when the time is up)")
	jobs := fs.Int("jobs", 0, "commands run at once (default: the number of CPUs)")
	timeout := fs.Duration("timeout", 20*time.Second, "time limit of one command")
	pos, err := parse(fs, args)
	if err != nil {
		return 0, err
	}
	if len(pos) != 0 {
		return 0, usagef("fuzz takes no arguments, got %q", pos)
	}
	im, err := implFlag(e, *impl, *timeout)
	if err != nil {
		return 0, err
	}
	s := *seed
	seedSet := false
	fs.Visit(func(f *flag.Flag) { seedSet = seedSet || f.Name == "seed" })
	if !seedSet {
		s = uint64(time.Now().UnixNano())
	}
	scratch, err := os.MkdirTemp("", "bun13-conformance-fuzz-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(scratch)
	fmt.Fprintf(e.Stdout, "bun13 conformance fuzz: seed %d, %s against %s\n", s, *dur, strings.Join(im.Argv, " "))
	st, found, err := difffuzz.Fuzz(ctx, difffuzz.Options{Impl: im, Seed: s, Duration: *dur, Jobs: *jobs, Dir: scratch, MaxFindings: *maxf, MaxIterations: *iters, Lookup: e.lookup, Log: e.Stdout})
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(e.Stdout, "%d iterations, %d runs of the implementation in %.1fs:", st.Iterations, st.Execs, seconds(st.Elapsed))
	for _, a := range cases.Areas {
		fmt.Fprintf(e.Stdout, " %s %d;", a, st.ByArea[a])
	}
	fmt.Fprintln(e.Stdout)
	if len(found) == 0 {
		fmt.Fprintln(e.Stdout, "no disagreement found")
		return ExitAgree, nil
	}
	dir := *keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "bun13-conformance-fuzz-found-"); err != nil {
			return 0, err
		}
	}
	fmt.Fprintf(e.Stdout, "%d disagreements, shrunk; inputs saved under %s\n", len(found), dir)
	for k, f := range found {
		o := f.Outcome
		name := fmt.Sprintf("finding-%02d-%s", k+1, cases.Slug(o.Case.Area))
		c := *o.Case
		c.Name = name
		o.Case = &c
		input, err := save(dir, o)
		if err != nil {
			return 0, err
		}
		os.WriteFile(filepath.Join(dir, name, "found.txt"), fmt.Appendf(nil, "seed %d iteration %d\nsignature: %s\noriginal: %s\nshrunk: %s\n", s, f.Iteration, f.Signature, f.Original, f.Description), 0o644)
		fmt.Fprintf(e.Stdout, "\n%s (seed %d, iteration %d; shrunk from size %d to %d in %d steps)\n", name, s, f.Iteration, f.InputSize, f.ShrunkSize, f.Steps)
		fmt.Fprintf(e.Stdout, "  decided by: %s\n", c.Spec)
		fmt.Fprintf(e.Stdout, "  input:      %s\n", input)
		fmt.Fprintf(e.Stdout, "  command:    %s\n", strings.Join(savedCommand(o, input), " "))
		fmt.Fprintf(e.Stdout, "  shrunk:     %s\n", clip(f.Description, 600))
		fmt.Fprintf(e.Stdout, "  expected:   %s\n", c.Want)
		fmt.Fprintf(e.Stdout, "  actual:     %s\n", Actual(o.Result))
		fmt.Fprintf(e.Stdout, "  why:        %s\n", strings.ReplaceAll(o.Why, "\n", "\n              "))
	}
	return ExitDisagree, nil
}
