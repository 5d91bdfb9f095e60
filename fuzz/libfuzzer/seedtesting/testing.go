// Package seedtesting stands in for package testing when fuzz/libfuzzer.sh
// exports the native fuzzers' seed corpora for libFuzzer.
//
// The libFuzzer build (go-118-fuzz-build) hands a fuzz target its input
// through go-fuzz-headers' ConsumeFuzzer: a []byte or string argument is a
// 4-byte big-endian length followed by that many bytes, so a native seed
// (the arguments of one f.Add call) is not a libFuzzer input as it stands.
// The script compiles ./fuzz with this package in place of testing and
// calls each FuzzX once: F.Add writes every seed, encoded as the consumer
// reads it, into Dir; F.Fuzz does nothing. The seeds in testdata/fuzz/FuzzX
// are encoded by the same Encode.
package seedtesting

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	realtesting "testing"
)

// F collects the seeds of one fuzz target.
type F struct {
	// Dir receives one file per seed, named by its SHA-256 as libFuzzer names
	// corpus files.
	Dir string
	// Err is the first error met (writing a seed, an unsupported argument,
	// or the target's own f.Fatal).
	Err error
	// N counts the seeds written.
	N int
}

// Encode is the ConsumeFuzzer form of a seed: each []byte or string
// argument as a 4-byte big-endian length and its bytes. An empty []byte or
// string cannot be expressed (the consumer reads a zero length as 30) and
// neither can an argument of another type: ok is false then.
func Encode(args ...any) (b []byte, ok bool) {
	for _, a := range args {
		var s []byte
		switch v := a.(type) {
		case []byte:
			s = v
		case string:
			s = []byte(v)
		default:
			return nil, false
		}
		if len(s) == 0 {
			return nil, false
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b, len(args) > 0
}

// Add writes one seed; a seed Encode cannot express is left out.
func (f *F) Add(args ...any) {
	b, ok := Encode(args...)
	if !ok || f.Err != nil {
		return
	}
	sum := sha256.Sum256(b)
	if err := os.WriteFile(filepath.Join(f.Dir, fmt.Sprintf("%x", sum[:20])), b, 0o644); err != nil {
		f.Err = err
		return
	}
	f.N++
}

// Fuzz does nothing: only the seeds are wanted.
func (f *F) Fuzz(any) {}

// Helper does nothing.
func (f *F) Helper() {}

// Fatal records the target's failure.
func (f *F) Fatal(args ...any) {
	if f.Err == nil {
		f.Err = fmt.Errorf("%s", fmt.Sprint(args...))
	}
}

// Fatalf records the target's failure.
func (f *F) Fatalf(format string, args ...any) {
	if f.Err == nil {
		f.Err = fmt.Errorf(format, args...)
	}
}

// T is never handed to a fuzz function here (F.Fuzz does not call it); it
// exists so the fuzz package's helpers compile.
type T struct{}

// Helper does nothing.
func (*T) Helper() {}

// Fatal panics: it is never reached.
func (*T) Fatal(args ...any) { panic(fmt.Sprint(args...)) }

// Fatalf panics: it is never reached.
func (*T) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// AllocsPerRun is testing.AllocsPerRun.
func AllocsPerRun(runs int, f func()) float64 { return realtesting.AllocsPerRun(runs, f) }

// Export calls each target with an F writing into out/NAME, then adds the
// files of corpus/NAME (the native corpus, testdata/fuzz), encoded the same
// way. It returns the number of seeds per target.
func Export(out, corpus string, targets map[string]func(*F)) (map[string]int, error) {
	counts := map[string]int{}
	for name, fn := range targets {
		f := &F{Dir: filepath.Join(out, name)}
		if err := os.MkdirAll(f.Dir, 0o755); err != nil {
			return nil, err
		}
		fn(f)
		files, _ := filepath.Glob(filepath.Join(corpus, name, "*"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				return nil, err
			}
			args, err := ParseCorpusFile(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			f.Add(args...)
		}
		if f.Err != nil {
			return nil, fmt.Errorf("%s: %w", name, f.Err)
		}
		counts[name] = f.N
	}
	return counts, nil
}

// ParseCorpusFile reads a native corpus file ("go test fuzz v1" and one
// []byte("...") or string("...") line per argument, as go test writes
// them).
func ParseCorpusFile(b []byte) ([]any, error) {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) == 0 || lines[0] != "go test fuzz v1" {
		return nil, errors.New("not a go test fuzz v1 file")
	}
	var args []any
	for _, l := range lines[1:] {
		switch {
		case strings.HasPrefix(l, "[]byte(") && strings.HasSuffix(l, ")"):
			s, err := strconv.Unquote(l[len("[]byte(") : len(l)-1])
			if err != nil {
				return nil, fmt.Errorf("%q: %w", l, err)
			}
			args = append(args, []byte(s))
		case strings.HasPrefix(l, "string(") && strings.HasSuffix(l, ")"):
			s, err := strconv.Unquote(l[len("string(") : len(l)-1])
			if err != nil {
				return nil, fmt.Errorf("%q: %w", l, err)
			}
			args = append(args, s)
		default:
			return nil, fmt.Errorf("unsupported corpus line %q", l)
		}
	}
	return args, nil
}
