package main

import (
	"errors"
	"os"

	"github.com/bun13/bun13/impl/conformance"
)

func init() { commands["conformance"] = runConformance }

// runConformance is `bun13 conformance run|export|fuzz` (see
// impl/conformance/README.md). It prints its own report and errors, so
// its statuses map to errors that print nothing more: 1 disagreement,
// 2 bad flags or an implementation that cannot be run.
func runConformance(e *env, args []string) error {
	switch conformance.Main(e.ctx, &conformance.Env{Stdout: e.stdout, Stderr: e.stderr, Environ: os.Environ()}, args) {
	case conformance.ExitAgree:
		return nil
	case conformance.ExitDisagree:
		return errSilentFail
	}
	return errConformanceUsage
}

// errConformanceUsage exits 2 after conformance printed why.
var errConformanceUsage = errors.New("conformance stopped (see above)")
