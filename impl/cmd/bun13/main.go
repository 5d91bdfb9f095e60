// Command bun13 is the CLI of the 13-byte config system (SPEC section 7).
//
// Usage:
//
//	bun13 lockfile decode FILE
//	bun13 lockfile encode -o FILE [JSON-FILE | -]
//	bun13 lockfile import [-o FILE] [--config-from LOCKB] package-lock.json
//	bun13 lockfile dump FILE
//	bun13 config init [--force]
//	bun13 config get [--explain] [FIELD]
//	bun13 config set version N | registry URL | registryHash 0xHEX | featureFlags FLAGS | terminal MODE;RxC | terminal.mode MODE | terminal.size ROWSxCOLS | rows N | cols N
//	bun13 config feature enable|disable NAME... | list
//	bun13 config validate [--json]
//	bun13 config dump --hex
//	bun13 config repair [--config-from JSON] [--dry-run]
//	bun13 config migrate --to N
//	bun13 config env export --format shell|dotenv|json [--registry URL]
//	bun13 config live
//	bun13 config history [--json]
//	bun13 config rollback [--to N]
//	bun13 frame decode HEX
//	bun13 frame encode --type T --offset O --value V
//	bun13 headers validate 'Name: value'... | NAME VALUE
//	bun13 registry serve [flags]             (see impl/registry/README.md)
//	bun13 registry top | bun13 top [--url URL] [--token T]
//	bun13 user add|remove|passwd|role|list NAME [--role R] [--data DIR | --database URL]   (password on stdin)
//	bun13 token issue --user U [--role R] [--ttl D] | revoke JTI|KEY | list [--data DIR | --database URL]
//	bun13 scope add @S --owner U | member add|remove @S U | list [--data DIR | --database URL]
//	bun13 key list [--data DIR | --database URL] | retire KID [--force] --database URL
//	bun13 proxy test [--timeout D] URL
//	bun13 status [--registry URL] [--json]
//	bun13 metrics [--registry URL] [--summary]
//	bun13 benchmark [config|validation|jwt|ratelimit|dns|all]
//	bun13 validate headers ...            (alias of headers validate)
//	bun13 help COMMAND [SUBCOMMAND]       (also COMMAND [SUBCOMMAND] --help)
//	bun13 conformance run|export|fuzz ...      (see impl/conformance/README.md)
//	bun13 health [--addr HOST:PORT] [--timeout D] [--live]   (exit 0 ready, 1 not)
//	bun13 version [--json]
//
// Every config command takes --file F; without it BUN_LOCKFILE names the
// lockfile, else ./bun.lockb. The environment (BUN_CONFIG_VERSION,
// BUN_CONFIG_REGISTRY, BUN_CONFIG_FEATURE_FLAGS, BUN_CONFIG_TERMINAL)
// overrides the file's values where the config is loaded for reading
// (get, feature list, env export, status, a running registry); commands
// that check or rewrite the file itself (validate, dump, set, repair,
// migrate, rollback) work on the file's bytes, and never write an override.
// A running `registry serve` follows the file (impl/configwatch).
//
// Exit status: 0 success or valid; 1 invalid input, with a first stderr line
// "error: CODE ..." using a SPEC code; 2 usage or I/O error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/bun13/bun13/impl/codes"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookup: os.LookupEnv, ctx: ctx}
	code := env.main(os.Args[1:])
	stop()
	os.Exit(code)
}

// env is what a command may touch: no global state, so tests run commands
// in-process with their own streams and environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookup         func(string) (string, bool)
	ctx            context.Context
}

// usageError is a bad command line: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// main runs args and returns the exit status, printing errors as the SPEC
// says: "error: CODE ..." and 1 for a SPEC code, 2 for anything else.
func (e *env) main(args []string) int {
	err := e.run(args)
	if err == nil {
		return 0
	}
	var help helpShown
	if errors.As(err, &help) {
		fmt.Fprint(e.stdout, help.text)
		return 0
	}
	if errors.Is(err, errSilentFail) {
		return 1
	}
	if errors.Is(err, errReportedIO) {
		return 2
	}
	if c := codes.Of(err); c != "" {
		var ce *codes.Error
		if errors.As(err, &ce) {
			msg := string(ce.Code)
			if ce.Name != "" {
				msg += ": " + ce.Name
			}
			if ce.Offset != codes.NoOffset {
				msg += fmt.Sprintf(" at offset %d (0x%02x)", ce.Offset, ce.Offset)
			}
			if ce.Detail != "" {
				msg += " (" + ce.Detail + ")"
			}
			fmt.Fprintf(e.stderr, "error: %s\n", msg)
		} else {
			fmt.Fprintf(e.stderr, "error: %s\n", c)
		}
		return 1
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "usage error: %s\nrun 'bun13 help' for usage\n", ue.msg)
		return 2
	}
	fmt.Fprintf(e.stderr, "bun13: %v\n", err)
	return 2
}

// errSilentFail exits 1 after the command printed its own verdict (for
// example `config validate --json`); errReportedIO exits 2 after it
// printed an I/O failure its own way (validate --json on a missing file).
var (
	errSilentFail = errors.New("invalid (reported)")
	errReportedIO = errors.New("i/o error (reported)")
)

func (e *env) run(args []string) error {
	if len(args) == 0 {
		return usagef("no command")
	}
	cmd, rest := args[0], args[1:]
	if g, ok := groupUsage[cmd]; ok && len(rest) > 0 && (isHelpArg(rest[0]) || rest[0] == "help") {
		return helpText(g)
	}
	if h, ok := commands[cmd]; ok {
		return h(e, rest)
	}
	switch cmd {
	case "help":
		return e.helpFor(rest)
	case "-h", "--help":
		return helpText(usageText)
	}
	return usagef("unknown command %q", cmd)
}

// commands maps a top-level command to its handler. Each command group
// adds itself from an init func in its own file (lockfile.go, config.go,
// frame.go, headers.go, registry.go, ...); the map is read-only after init.
var commands = map[string]func(*env, []string) error{}

const usageText = `bun13: the 13-byte config system

  bun13 lockfile decode|encode|import|dump ...
  bun13 config init|get|set|feature|validate|dump|repair|migrate|env|live|history|rollback ...
  bun13 frame decode|encode ...
  bun13 headers validate ...
  bun13 registry serve|top ...
  bun13 user add|remove|passwd|role|list ...
  bun13 token issue|revoke|list ...
  bun13 scope add|member|list ...
  bun13 key list|retire ...              signing keys of the replicas (--database URL)
  bun13 proxy test URL
  bun13 status [--registry URL]          config, its source per field, file validity, the running registry and its fleet
  bun13 metrics [--registry URL] [--summary]
  bun13 benchmark [config|validation|jwt|ratelimit|dns|all]
  bun13 validate headers ...             (same as bun13 headers validate)
  bun13 help COMMAND [SUBCOMMAND]        its usage and flags (also: COMMAND --help)
  bun13 conformance run|export|fuzz ...
  bun13 health [--addr HOST:PORT]        probe a running registry's readiness: exit 0 ready, 1 not
  bun13 version                          version, commit and Go version of this binary

See the package documentation (go doc ./impl/cmd/bun13) for every flag.
`
