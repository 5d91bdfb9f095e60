package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/lockfile"
)

func init() { commands["lockfile"] = runLockfile }

func runLockfile(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("lockfile: want decode, encode, import or dump")
	}
	switch args[0] {
	case "decode":
		return lockfileDecode(e, args[1:])
	case "encode":
		return lockfileEncode(e, args[1:])
	case "import":
		return lockfileImport(e, args[1:])
	case "dump":
		pos, err := parseInterspersed(newFlags("lockfile dump"), args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("lockfile dump FILE")
		}
		b, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		return lockfile.Dump(e.stdout, b)
	}
	return usagef("lockfile: unknown subcommand %q", args[0])
}

func lockfileDecode(e *env, args []string) error {
	pos, err := parseInterspersed(newFlags("lockfile decode"), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("lockfile decode FILE")
	}
	b, err := readInput(e, pos[0])
	if err != nil {
		return err
	}
	lf, err := lockfile.Decode(b)
	if err != nil {
		return err
	}
	out, err := lf.JSON()
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(out)
	return err
}

func lockfileEncode(e *env, args []string) error {
	set := newFlags("lockfile encode")
	out := set.String("o", "", "output lockfile (required)")
	pos, err := parseInterspersed(set, args)
	if err != nil {
		return err
	}
	if *out == "" || len(pos) > 1 {
		return usagef("lockfile encode -o FILE [JSON-FILE | -]")
	}
	in := "-"
	if len(pos) == 1 {
		in = pos[0]
	}
	j, err := readInput(e, in)
	if err != nil {
		return err
	}
	var lf lockfile.Lockfile
	if err := json.Unmarshal(j, &lf); err != nil {
		return jsonInputError(err)
	}
	return lockfile.WriteFile(*out, &lf)
}

// jsonInputError keeps SPEC-coded errors (exit 1) and turns plain JSON
// syntax errors into I/O-class errors (exit 2) with a clear message.
func jsonInputError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	if errors.As(err, &se) || errors.As(err, &te) {
		return fmt.Errorf("reading JSON: %w", err)
	}
	return err
}

func lockfileImport(e *env, args []string) error {
	set := newFlags("lockfile import")
	out := set.String("o", "bun.lockb", "output lockfile; an existing valid one keeps its config")
	pos, err := parseInterspersed(set, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("lockfile import [-o FILE] package-lock.json")
	}
	data, err := readInput(e, pos[0])
	if err != nil {
		return err
	}
	pkgs, rep, err := lockfile.ImportNPM(data)
	if err != nil {
		return err
	}
	cfg := config.Default()
	if old, err := lockfile.ReadFile(*out); err == nil {
		cfg = old.Config
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s exists and is not a valid lockfile (%w); not replacing it", *out, err)
	}
	lf := &lockfile.Lockfile{Config: cfg, Packages: pkgs}
	if err := lockfile.WriteFile(*out, lf); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "imported %d packages into %s\n", rep.Packages, *out)
	for _, s := range rep.Skipped {
		fmt.Fprintf(e.stdout, "skipped %s: %s\n", s.Path, s.Reason)
	}
	return nil
}

// readInput reads a file, or stdin for "-".
func readInput(e *env, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(e.stdin)
	}
	return os.ReadFile(name)
}
