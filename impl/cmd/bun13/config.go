package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/confighistory"
	"github.com/bun13/bun13/impl/lockfile"
)

func init() { commands["config"] = runConfig }

// fileFlag adds --file to fs; the default comes from BUN_LOCKFILE.
func (e *env) fileFlag(fs *flag.FlagSet) *string {
	def := "bun.lockb"
	if v, ok := e.lookup(config.EnvLockfile); ok && v != "" {
		def = v
	}
	return fs.String("file", def, "lockfile (default $BUN_LOCKFILE or ./bun.lockb)")
}

func runConfig(e *env, args []string) error {
	// Flags may come before the subcommand too: `config --file F get`.
	var lead []string
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		a := args[0]
		if isHelpArg(a) {
			return helpText(groupUsage["config"])
		}
		name := strings.TrimLeft(a, "-")
		if _, takesValue := configValueFlags[name]; takesValue && len(args) > 1 {
			lead, args = append(lead, a, args[1]), args[2:]
			continue
		}
		lead, args = append(lead, a), args[1:]
	}
	if len(args) == 0 {
		return usagef("config: want init, get, set, feature, validate, dump, repair, migrate, env, live, history or rollback")
	}
	if args[0] == "help" {
		return helpText(groupUsage["config"])
	}
	sub, args := args[0], append(args[1:len(args):len(args)], lead...)
	h, ok := configCommands[sub]
	if !ok {
		return usagef("config: unknown subcommand %q", sub)
	}
	return h(e, args)
}

var configCommands = map[string]func(*env, []string) error{
	"init":     configInit,
	"get":      configGet,
	"set":      configSet,
	"feature":  configFeature,
	"validate": configValidate,
	"dump":     configDump,
	"repair":   configRepair,
	"migrate":  configMigrate,
	"env":      configEnv,
	"live":     configLive,
	"history":  configHistory,
	"rollback": configRollback,
}

// configValueFlags are the config flags that take a value, so that one
// given before the subcommand keeps it.
var configValueFlags = map[string]struct{}{"file": {}, "format": {}, "to": {}, "config-from": {}, "registry": {}}

// effective loads the file's config with the environment applied.
func (e *env) effective(path string) (config.Config, error) {
	lf, err := lockfile.ReadFile(path)
	if err != nil {
		return config.Config{}, err
	}
	return config.ApplyEnv(lf.Config, e.lookup)
}

func configInit(e *env, args []string) error {
	fs := newFlags("config init")
	file := e.fileFlag(fs)
	force := fs.Bool("force", false, "replace an existing lockfile")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("config init [--file F] [--force]")
	}
	if err := lockfile.Create(*file, config.Default(), *force); err != nil {
		if errors.Is(err, lockfile.ErrExists) {
			return usagef("%v", err)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s with the default config\n", *file)
	return nil
}

// getters name the fields `config get` and `config set` know.
var getters = map[string]func(config.Config) string{
	"version":       func(c config.Config) string { return strconv.Itoa(int(c.Version)) },
	"registryHash":  func(c config.Config) string { return fmt.Sprintf("0x%08x", c.RegistryHash) },
	"featureFlags":  func(c config.Config) string { return c.FeatureFlags.Hex() },
	"terminal":      config.Config.Terminal,
	"terminal.mode": func(c config.Config) string { return c.TerminalMode.String() },
	"terminalMode":  func(c config.Config) string { return c.TerminalMode.String() },
	"terminal.size": func(c config.Config) string { return fmt.Sprintf("%dx%d", c.Rows, c.Cols) },
	"rows":          func(c config.Config) string { return strconv.Itoa(int(c.Rows)) },
	"cols":          func(c config.Config) string { return strconv.Itoa(int(c.Cols)) },
	"checksum":      func(c config.Config) string { return fmt.Sprintf("0x%016x", c.Checksum()) },
}

func configGet(e *env, args []string) error {
	fs := newFlags("config get")
	file := e.fileFlag(fs)
	explain := fs.Bool("explain", false, "show, per field, the value and where it comes from: the file or an environment variable")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("config get [--explain] [FIELD]")
	}
	c, err := e.effective(*file)
	if err != nil {
		return err
	}
	if *explain {
		return e.explain(*file, c, pos)
	}
	if len(pos) == 0 {
		b, _ := json.MarshalIndent(c, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", b)
		return nil
	}
	g, ok := getters[pos[0]]
	if !ok {
		return usagef("config get: unknown field %q", pos[0])
	}
	fmt.Fprintln(e.stdout, g(c))
	return nil
}

// explain prints each field (or the one named) with its effective value,
// the file's value when an override differs, and the source.
func (e *env) explain(path string, eff config.Config, only []string) error {
	lf, err := lockfile.ReadFile(path)
	if err != nil {
		return err
	}
	fv := fieldValues(lf.Config)
	ev := fieldValues(eff)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tVALUE\tSOURCE\tFILE")
	found := len(only) == 0
	for _, fsrc := range config.Sources(e.lookup) {
		if len(only) == 1 && only[0] != fsrc.Field {
			continue
		}
		found = true
		fileVal := "="
		if fsrc.Source != config.SourceFile {
			fileVal = fv[fsrc.Field]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", fsrc.Field, ev[fsrc.Field], fsrc.Source, fileVal)
	}
	if !found {
		return usagef("config get --explain: unknown field %q (want one of %s)", only[0], strings.Join(config.Fields, ", "))
	}
	return tw.Flush()
}

// fieldValues renders each field of config.Fields as the JSON form does.
func fieldValues(c config.Config) map[string]string {
	return map[string]string{
		"version": strconv.Itoa(int(c.Version)), "registryHash": fmt.Sprintf("0x%08x", c.RegistryHash),
		"featureFlags": c.FeatureFlags.Hex(), "terminalMode": c.TerminalMode.String(),
		"rows": strconv.Itoa(int(c.Rows)), "cols": strconv.Itoa(int(c.Cols)),
	}
}

// update rewrites the file's config through fn, under the lockfile lock
// and crash-safely, starting from the bytes on disk, and records the
// change in the history with source.
func (e *env) update(path string, fn func(config.Config) (config.Config, error)) (config.Config, error) {
	return e.updateFrom(path, "cli", fn)
}

func (e *env) updateFrom(path, source string, fn func(config.Config) (config.Config, error)) (config.Config, error) {
	lf, err := lockfile.UpdateFrom(path, source, func(lf *lockfile.Lockfile) error {
		c, err := fn(lf.Config)
		if err != nil {
			return err
		}
		if err := c.Validate(); err != nil {
			return err
		}
		lf.Config = c
		return nil
	})
	if err != nil {
		return config.Config{}, err
	}
	return lf.Config, nil
}

func configSet(e *env, args []string) error {
	fs := newFlags("config set")
	file := e.fileFlag(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("config set version N | registry URL | registryHash 0xHEX | featureFlags FLAGS | terminal MODE;ROWSxCOLS | terminal.mode MODE | terminal.size ROWSxCOLS | rows N | cols N")
	}
	field, val := pos[0], pos[1]
	var fn func(config.Config) (config.Config, error)
	show := field
	switch field {
	case "version":
		n, err := config.ParseDecimal(val)
		if err != nil || n > 255 {
			return codes.At(codes.UnsupportedVersion, config.OffsetVersion, "version %q", val)
		}
		fn = func(c config.Config) (config.Config, error) { return c.Migrate(uint8(n)) }
	case "registry":
		h, err := config.RegistryHash(val)
		if err != nil {
			return err
		}
		show = "registryHash"
		fn = func(c config.Config) (config.Config, error) { c.RegistryHash = h; return c, nil }
	case "registryHash":
		h, err := strconv.ParseUint(strings.TrimPrefix(val, "0x"), 16, 32)
		if err != nil || !strings.HasPrefix(val, "0x") {
			return codes.At(codes.RegistryHash, config.OffsetRegistryHash, "%q is not 0x + hex", val)
		}
		fn = func(c config.Config) (config.Config, error) { c.RegistryHash = uint32(h); return c, nil }
	case "featureFlags":
		f, err := config.ParseFlags(val)
		if err != nil {
			return codes.At(codes.UnknownFeature, config.OffsetFeatureFlags, "%v", err)
		}
		fn = func(c config.Config) (config.Config, error) { c.FeatureFlags = f; return c, nil }
	case "rows", "cols":
		n, err := config.ParseDecimal(val)
		if err != nil || n < 1 || n > 255 {
			off := config.OffsetRows
			if field == "cols" {
				off = config.OffsetCols
			}
			return codes.At(codes.TerminalSize, off, "%s %q, want 1..255", field, val)
		}
		fn = func(c config.Config) (config.Config, error) {
			if field == "rows" {
				c.Rows = uint8(n)
			} else {
				c.Cols = uint8(n)
			}
			return c, nil
		}
	case "terminal.mode", "terminalMode":
		m, ok := config.ParseMode(val)
		if !ok {
			return codes.At(codes.TerminalMode, config.OffsetTerminalMode, "mode %q, want none, cooked or raw", val)
		}
		fn = func(c config.Config) (config.Config, error) { c.TerminalMode = m; return c, nil }
	case "terminal":
		m, r, cols, err := config.ParseTerminal(val)
		if err != nil {
			off := config.OffsetTerminalMode
			if codes.Of(err) == codes.TerminalSize {
				off = config.OffsetRows
			}
			return codes.At(codes.Of(err), off, "%s", detailOf(err))
		}
		fn = func(c config.Config) (config.Config, error) {
			c.TerminalMode, c.Rows, c.Cols = m, r, cols
			return c, nil
		}
	case "terminal.size":
		r, cols, err := config.ParseSize(val)
		if err != nil {
			return codes.At(codes.TerminalSize, config.OffsetRows, "%s", detailOf(err))
		}
		fn = func(c config.Config) (config.Config, error) { c.Rows, c.Cols = r, cols; return c, nil }
	case "checksum":
		return usagef("config set: checksum is computed from the other fields, not set")
	default:
		return usagef("config set: unknown field %q (want one of: version registry registryHash featureFlags terminal terminal.mode terminalMode terminal.size rows cols)", field)
	}
	c, err := e.update(*file, fn)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s = %s\n", show, getters[show](c))
	return nil
}

func configFeature(e *env, args []string) error {
	fs := newFlags("config feature")
	file := e.fileFlag(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("config feature enable|disable NAME... | list")
	}
	switch pos[0] {
	case "list":
		c, err := e.effective(*file)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "version %d, flags %s\n", c.Version, c.FeatureFlags.Hex())
		for _, f := range config.AllFlags() {
			state := "off"
			switch {
			case c.Enabled(f):
				state = "on"
			case config.Mask(c.Version)&f == 0:
				state = fmt.Sprintf("n/a (from version %d)", f.Since())
			}
			fmt.Fprintf(e.stdout, "  bit %d  %-24s %s\n", bitOf(f), f.Name(), state)
		}
		return nil
	case "enable", "disable":
		if len(pos) < 2 {
			return usagef("config feature %s NAME...", pos[0])
		}
		var mask config.Flags
		for _, n := range pos[1:] {
			f, err := config.ParseFlags(n)
			if err != nil {
				return codes.At(codes.UnknownFeature, config.OffsetFeatureFlags, "%v", err)
			}
			mask |= f
		}
		enable := pos[0] == "enable"
		c, err := e.update(*file, func(c config.Config) (config.Config, error) {
			if enable {
				c.FeatureFlags |= mask
			} else {
				c.FeatureFlags &^= mask
			}
			return c, nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "featureFlags = %s (%s)\n", c.FeatureFlags.Hex(), c.FeatureFlags)
		return nil
	}
	return usagef("config feature: unknown action %q", pos[0])
}

func bitOf(f config.Flags) int {
	for i := range 32 {
		if f == 1<<i {
			return i
		}
	}
	return -1
}

// validateResult is the --json form of config validate.
type validateResult struct {
	Valid  bool   `json:"valid"`
	Error  string `json:"error,omitempty"`
	Offset *int   `json:"offset,omitempty"`
}

func configValidate(e *env, args []string) error {
	fs := newFlags("config validate")
	file := e.fileFlag(fs)
	asJSON := fs.Bool("json", false, "print the verdict as JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("config validate [--file F] [--json]")
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		hint := ""
		if errors.Is(err, os.ErrNotExist) {
			hint = "create one with: bun13 config init --file " + *file
		}
		if *asJSON {
			out, _ := json.Marshal(struct {
				Valid  bool   `json:"valid"`
				Error  string `json:"error"`
				Detail string `json:"detail"`
				Hint   string `json:"hint,omitempty"`
			}{false, "io", err.Error(), hint})
			fmt.Fprintf(e.stdout, "%s\n", out)
			return errReportedIO
		}
		if hint != "" {
			return fmt.Errorf("%w (%s)", err, hint)
		}
		return err
	}
	lf, verr := lockfile.Decode(b)
	if verr == nil {
		// The file is valid; the environment must be too, or loading fails.
		_, verr = config.ApplyEnv(lf.Config, e.lookup)
	}
	if !*asJSON {
		if verr != nil {
			return verr
		}
		fmt.Fprintf(e.stdout, "valid: %s (%d packages)\n", *file, len(lf.Packages))
		return nil
	}
	res := validateResult{Valid: verr == nil}
	if verr != nil {
		if codes.Of(verr) == "" {
			return verr
		}
		res.Error = string(codes.Of(verr))
		var ce *codes.Error
		if errors.As(verr, &ce) {
			if ce.Offset != codes.NoOffset {
				off := ce.Offset
				res.Offset = &off
			}
		}
	}
	out, _ := json.Marshal(res)
	fmt.Fprintf(e.stdout, "%s\n", out)
	if verr != nil {
		return errSilentFail
	}
	return nil
}

func configDump(e *env, args []string) error {
	fs := newFlags("config dump")
	file := e.fileFlag(fs)
	fs.Bool("hex", true, "annotated hex dump (the only format)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("config dump --hex [--file F]")
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	return lockfile.Dump(e.stdout, b)
}

func configRepair(e *env, args []string) error {
	fs := newFlags("config repair")
	file := e.fileFlag(fs)
	from := fs.String("config-from", "", "JSON file with the config to rebuild the header from (SPEC JSON config form); default: the fields repair can prove intact, the rest from the history or the default config")
	dry := fs.Bool("dry-run", false, "report what would change, write nothing")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("config repair [--file F] [--config-from JSON] [--dry-run]")
	}
	opts := lockfile.RepairOptions{}
	if *from != "" {
		j, err := os.ReadFile(*from)
		if err != nil {
			return err
		}
		var c config.Config
		if err := json.Unmarshal(j, &c); err != nil {
			return jsonInputError(err)
		}
		opts.Config = &c
	}
	if recs, _, err := confighistory.Read(lockfile.HistoryPath(*file)); err == nil {
		for _, r := range recs {
			if r.Valid {
				opts.Known = append(opts.Known, r.Config)
			}
		}
	}
	var out []byte
	var rep lockfile.RepairReport
	check := func(cur []byte) error {
		var err error
		out, rep, err = lockfile.RepairWith(cur, opts)
		if err != nil {
			if rep.Found != nil {
				fmt.Fprintf(e.stdout, "found: %v\n", rep.Found)
			}
			fmt.Fprintf(e.stdout, "refused: %v\n", err)
			return err
		}
		if !rep.Repaired {
			return errNothingToRepair
		}
		fmt.Fprintf(e.stdout, "found: %v\n", rep.Found)
		for _, n := range rep.Notes {
			fmt.Fprintf(e.stdout, "  %s\n", n)
		}
		for _, c := range rep.Changes {
			fmt.Fprintf(e.stdout, "  0x%02X %-13s %s -> %s\n", c.Offset, c.Field, c.Old, c.New)
		}
		fmt.Fprintf(e.stdout, "kept all %d packages\n", rep.Packages)
		if *dry {
			return errDryRun
		}
		return nil
	}
	// Replace holds the lock from the read to the write.
	if _, err := os.Stat(*file); err != nil {
		return err
	}
	err = lockfile.ReplaceFunc(*file, "repair", func(cur []byte) ([]byte, error) {
		if err := check(cur); err != nil {
			return nil, err
		}
		return out, nil
	})
	switch {
	case errors.Is(err, errNothingToRepair):
		fmt.Fprintf(e.stdout, "%s is valid (%d packages): nothing to repair\n", *file, rep.Packages)
		return nil
	case errors.Is(err, errDryRun):
		fmt.Fprintln(e.stdout, "dry run: nothing written")
		return nil
	case err != nil:
		return err
	}
	fmt.Fprintf(e.stdout, "repaired %s\n", *file)
	return nil
}

var (
	errNothingToRepair = errors.New("nothing to repair")
	errDryRun          = errors.New("dry run")
)

func configMigrate(e *env, args []string) error {
	fs := newFlags("config migrate")
	file := e.fileFlag(fs)
	to := fs.Int("to", -1, "target version (0, 1 or 2)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *to < 0 {
		return usagef("config migrate --to N [--file F]")
	}
	if *to > 255 {
		return codes.At(codes.UnsupportedVersion, config.OffsetVersion, "target version %d", *to)
	}
	var from uint8
	c, err := e.updateFrom(*file, "migrate", func(c config.Config) (config.Config, error) {
		from = c.Version
		return c.Migrate(uint8(*to))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "migrated %s from version %d to %d\n", *file, from, c.Version)
	return nil
}

func configEnv(e *env, args []string) error {
	if len(args) > 0 && isHelpArg(args[0]) {
		args = []string{"export", "--help"}
	}
	if len(args) == 0 || args[0] != "export" {
		return usagef("config env export --format shell|dotenv|json [--registry URL]")
	}
	fs := newFlags("config env export")
	file := e.fileFlag(fs)
	format := fs.String("format", config.FormatShell, "shell, dotenv or json")
	registry := fs.String("registry", "", "the registry URL the config's registryHash stands for, when it is not the default one (exported as "+config.EnvRegistry+"; refused if its hash differs)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("config env export --format shell|dotenv|json [--registry URL]")
	}
	if _, err := config.Export(config.Default(), "", *format); err != nil {
		return usagef("%v", err)
	}
	c, err := e.effective(*file)
	if err != nil {
		return err
	}
	// The config holds only the registry's hash: the URL is exported when
	// it is known (the variable, --registry, or the default registry);
	// otherwise it is left out (and said so), because the loader reads
	// the URL alone and an exported hash would be a variable it ignores.
	url := ""
	switch {
	case *registry != "":
		norm, err := config.NormalizeRegistryURL(*registry)
		if err != nil {
			return usagef("config env export: --registry: %v", err)
		}
		if h, _ := config.RegistryHash(norm); h != c.RegistryHash {
			return codes.At(codes.RegistryHash, config.OffsetRegistryHash, "--registry %s hashes to 0x%08x, the config's registryHash is 0x%08x", norm, h, c.RegistryHash)
		}
		url = norm
	default:
		if v, ok := e.lookup(config.EnvRegistry); ok {
			url, _ = config.NormalizeRegistryURL(v)
		} else if c.RegistryHash == config.DefaultRegistryHash {
			url = config.DefaultRegistry
		}
	}
	if url == "" {
		fmt.Fprintf(e.stderr, "note: registryHash 0x%08x is not the default registry's and its URL is unknown: %s not exported (pass --registry URL)\n", c.RegistryHash, config.EnvRegistry)
	}
	out, err := config.Export(c, url, *format)
	if err != nil {
		return usagef("%v", err)
	}
	_, err = e.stdout.Write(out)
	return err
}

// detailOf is the human part of a coded error, so a re-coded error with an
// offset does not repeat the code.
func detailOf(err error) string {
	var ce *codes.Error
	if errors.As(err, &ce) && ce.Detail != "" {
		return ce.Detail
	}
	return err.Error()
}
