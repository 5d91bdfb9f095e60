// Package runner drives another implementation exactly as the SPEC's CLI
// contract (section 7) says and compares what it prints and its exit
// status with the reference's answer: JSON as values, errors by the code
// after "error: " (and the header name after it for headers), offsets by
// value.
package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bun13/bun13/impl/conformance/cases"
)

// Impl is the implementation under test: a command line and the
// environment it runs with.
type Impl struct {
	Argv    []string
	Env     []string
	Timeout time.Duration // per command; 0 means 20 s
}

// ErrCannotRun is returned when the implementation's command cannot be
// started at all (not found, not executable).
var ErrCannotRun = errors.New("the implementation cannot be run")

// Result is what one command did.
type Result struct {
	Argv     []string
	Exit     int
	Stdout   []byte
	Stderr   []byte
	Output   []byte // the file encode wrote, nil when none
	TimedOut bool
	Signal   string // the signal that killed it, if one did
}

// Inputs writes c's input files into dir and returns the command line and
// the output path (for encode).
func Inputs(c *cases.Case, dir string) (args []string, out string, err error) {
	in := filepath.Join(dir, "input"+c.InputExt())
	out = filepath.Join(dir, "output.lockb")
	if c.InputExt() != "" {
		if err := os.WriteFile(in, c.Input, 0o644); err != nil {
			return nil, "", err
		}
	}
	return c.Command(in, out), out, nil
}

// Run runs c in dir (created if needed, and left with the input in it).
func (im *Impl) Run(ctx context.Context, c *cases.Case, dir string) (Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, err
	}
	args, out, err := Inputs(c, dir)
	if err != nil {
		return Result{}, err
	}
	os.Remove(out)
	res, err := im.Exec(ctx, dir, args...)
	if err != nil {
		return res, err
	}
	if c.Area == cases.LockfileEncode {
		if b, err := os.ReadFile(out); err == nil {
			res.Output = b
		}
	}
	return res, nil
}

// Exec runs the implementation with args in dir.
func (im *Impl) Exec(ctx context.Context, dir string, args ...string) (Result, error) {
	timeout := im.Timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	argv := append(append([]string(nil), im.Argv[1:]...), args...)
	cmd := exec.CommandContext(ctx, im.Argv[0], argv...)
	cmd.Env = im.Env
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	res := Result{Argv: append(append([]string(nil), im.Argv...), args...), Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Exit = ee.ExitCode()
		if ctx.Err() != nil {
			res.TimedOut = true
		} else if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = ws.Signal().String()
		}
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission), errors.Is(err, syscall.ENOEXEC):
		return res, fmt.Errorf("%w: %s: %v", ErrCannotRun, im.Argv[0], err)
	default:
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res.TimedOut, res.Exit = true, -1
			return res, nil
		}
		return res, fmt.Errorf("%w: %v", ErrCannotRun, err)
	}
	return res, nil
}

// Outcome is one case's verdict.
type Outcome struct {
	Case   *cases.Case
	Result Result
	Got    Got
	Agree  bool
	Why    string
	Dir    string // where its input is
}

// RunAll runs every case with jobs workers (0: the number of CPUs), each
// in its own directory under dir. It stops early, with ErrCannotRun, if
// the implementation cannot be started.
func RunAll(ctx context.Context, im *Impl, cs []cases.Case, dir string, jobs int) ([]Outcome, error) {
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	out := make([]Outcome, len(cs))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := &cs[i]
				d := filepath.Join(dir, fmt.Sprintf("%05d", i))
				res, err := im.Run(ctx, c, d)
				if err != nil {
					cancel(err)
					continue
				}
				if ctx.Err() != nil {
					continue
				}
				got := Parse(c.Area, res)
				ok, why := Compare(c, got)
				out[i] = Outcome{Case: c, Result: res, Got: got, Agree: ok, Why: why, Dir: d}
			}
		}()
	}
feed:
	for i := range cs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// FirstLine is the first line of b, without its line end.
func FirstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSuffix(s, "\r")
}
