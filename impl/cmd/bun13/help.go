package main

import (
	"flag"
	"fmt"
	"strings"
)

// Help: every command and subcommand answers -h/--help (and `bun13 help
// COMMAND...`) with its own usage and flags on stdout, exit 0.

func isHelpArg(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// helpShown is a help request answered with text: exit 0.
type helpShown struct{ text string }

func (h helpShown) Error() string { return "help requested" }

func helpText(s string) error { return helpShown{s} }

// flagsHelp renders a FlagSet's usage: its synopsis, then each flag.
func flagsHelp(fs *flag.FlagSet) string {
	var b strings.Builder
	syn := synopsis[fs.Name()]
	if syn == "" {
		syn = "[flags]"
	}
	fmt.Fprintf(&b, "usage: bun13 %s %s\n", fs.Name(), syn)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		b.WriteString("\nflags (anywhere among the arguments; -flag and --flag are the same):\n")
		out := fs.Output()
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
	return b.String()
}

// synopsis is the positional part of each flag-parsing command's usage.
var synopsis = map[string]string{
	"config init":         "[--file F] [--force]",
	"config get":          "[--file F] [--explain] [FIELD]   FIELD: version registryHash featureFlags terminal terminal.mode terminalMode terminal.size rows cols checksum",
	"config set":          "[--file F] FIELD VALUE   FIELD: version registry registryHash featureFlags terminal terminal.mode terminalMode terminal.size rows cols",
	"config feature":      "[--file F] enable NAME... | disable NAME... | list",
	"config validate":     "[--file F] [--json]",
	"config dump":         "[--file F] --hex",
	"config repair":       "[--file F] [--config-from JSON] [--dry-run]",
	"config migrate":      "[--file F] --to N",
	"config env export":   "[--file F] [--format shell|dotenv|json] [--registry URL]",
	"config live":         "[--file F]",
	"config history":      "[--file F] [--json]",
	"config rollback":     "[--file F] [--to N]",
	"lockfile decode":     "FILE",
	"lockfile encode":     "-o FILE [JSON-FILE | -]",
	"lockfile import":     "[-o FILE] [--config-from LOCKB] package-lock.json",
	"lockfile dump":       "FILE",
	"frame decode":        "HEX",
	"frame encode":        "--type T --offset O --value V",
	"registry serve":      "[flags]   (every flag also has an environment variable: see go doc ./impl/cmd/bun13)",
	"top":                 "[--url URL] [--token T]",
	"registry migrate":    "--from DATA_DIR --database URL --blobs URL",
	"registry sweep":      "--database URL --blobs URL [--grace D] [--dry-run]",
	"proxy test":          "[--timeout D] URL",
	"status":              "[--file F] [--registry URL] [--json]",
	"metrics":             "[--registry URL] [--summary]",
	"benchmark":           "[config|validation|jwt|ratelimit|dns|all]   (about a second per row)",
	"user add":            "NAME [--role R] [--data DIR | --database URL]   (password on stdin)",
	"user passwd":         "NAME [--data DIR | --database URL]   (password on stdin)",
	"user role":           "NAME read|publish|admin [--data DIR | --database URL]",
	"user remove":         "NAME [--data DIR | --database URL]",
	"user list":           "[--data DIR | --database URL]",
	"token issue":         "--user U [--role R] [--ttl D] [--data DIR] [--key-file F] [--database URL]",
	"token revoke":        "JTI|KEY [--data DIR | --database URL]",
	"token list":          "[--user U] [--data DIR | --database URL]",
	"scope add":           "@S --owner U [--data DIR | --database URL]",
	"scope member add":    "@S USER [--data DIR | --database URL]",
	"scope member remove": "@S USER [--data DIR | --database URL]",
	"scope list":          "[--data DIR | --database URL]",
	"key list":            "[--data DIR] [--key-file F] [--database URL]   (kid, created, retired, replicas)",
	"key retire":          "KID [--force] --database URL   (refused while a live replica signs with it, unless --force)",
	"headers validate":    "'Name: value'... | NAME VALUE",
	"validate headers":    "'Name: value'... | NAME VALUE   (same as bun13 headers validate)",
	"registry top":        "[--url URL] [--token T]",
	"config env":          "export [flags]",
	"config feature list": "[--file F]",
}

// groupUsage is the help of each command that has subcommands.
var groupUsage = map[string]string{
	"config": `usage: bun13 config SUBCOMMAND [--file F] ...

  init [--force]                 write the default config
  get [--explain] [FIELD]        the config (environment applied); --explain: value and source per field
  set FIELD VALUE                change one field (read-modify-write of the file under its lock)
  feature enable|disable NAME... | list
  validate [--json]              check the file (then the environment over it)
  dump --hex                     annotated header and body
  repair [--config-from JSON] [--dry-run]
  migrate --to N
  env export [--format shell|dotenv|json] [--registry URL]
  live                           print a field-by-field diff on every change of the file
  history [--json]               the configs the file has held (FILE.history)
  rollback [--to N]              restore an earlier config from the history

--file F (or BUN_LOCKFILE) picks the lockfile, default ./bun.lockb; flags may
come before or after the subcommand. bun13 config SUBCOMMAND --help for its flags.
`,
	"lockfile": `usage: bun13 lockfile decode FILE | encode -o FILE [JSON|-] | import [-o FILE] package-lock.json | dump FILE
`,
	"frame": `usage: bun13 frame decode HEX | encode --type T --offset O --value V
`,
	"headers": `usage: bun13 headers validate 'Name: value'... | NAME VALUE
`,
	"validate": `usage: bun13 validate headers 'Name: value'... | NAME VALUE   (same as bun13 headers validate)
`,
	"registry": `usage: bun13 registry serve [flags] | top [--url URL] [--token T]
       bun13 registry migrate --from DATA_DIR --database URL --blobs URL
       bun13 registry sweep --database URL --blobs URL [--grace D] [--dry-run]

bun13 registry serve --help lists the server's flags.
`,
	"user": `usage: bun13 user add|passwd|role|remove|list NAME [--role R] [--data DIR | --database URL]   (passwords on stdin)
`,
	"token": `usage: bun13 token issue --user U [--role R] [--ttl D] | revoke JTI|KEY | list [--data DIR | --database URL]
`,
	"scope": `usage: bun13 scope add @S --owner U | member add|remove @S USER | list [--data DIR | --database URL]
`,
	"key": `usage: bun13 key list [--data DIR] [--database URL] | retire KID [--force] --database URL

--database URL (or BUN13_REGISTRY_DATABASE): the signing keys every replica
registered in the shared PostgreSQL store; without it, list shows the key file.
`,
	"proxy": `usage: bun13 proxy test [--timeout D] URL
`,
}

// helpFor answers `bun13 help COMMAND...`: the command's own help.
func (e *env) helpFor(args []string) error {
	if len(args) == 0 {
		return helpText(usageText)
	}
	if _, ok := commands[args[0]]; !ok {
		return usagef("help: unknown command %q", args[0])
	}
	return e.run(append(args[:len(args):len(args)], "--help"))
}
