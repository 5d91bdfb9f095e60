package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/bun13/bun13/impl/atomicfile"
	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
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
	if len(args) == 0 {
		return usagef("config: want init, get, set, feature, validate, dump, repair, migrate, env or live")
	}
	sub, args := args[0], args[1:]
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
}

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
	"terminal.size": func(c config.Config) string { return fmt.Sprintf("%dx%d", c.Rows, c.Cols) },
	"rows":          func(c config.Config) string { return strconv.Itoa(int(c.Rows)) },
	"cols":          func(c config.Config) string { return strconv.Itoa(int(c.Cols)) },
	"checksum":      func(c config.Config) string { return fmt.Sprintf("0x%016x", c.Checksum()) },
}

func configGet(e *env, args []string) error {
	fs := newFlags("config get")
	file := e.fileFlag(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("config get [FIELD]")
	}
	c, err := e.effective(*file)
	if err != nil {
		return err
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

// update rewrites the file's config through fn, under the lockfile lock
// and crash-safely, and prints the new value of field.
func (e *env) update(path string, fn func(config.Config) (config.Config, error)) (config.Config, error) {
	lf, err := lockfile.Update(path, func(lf *lockfile.Lockfile) error {
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
		return usagef("config set version N | registry URL | registryHash 0xHEX | featureFlags FLAGS | terminal MODE;ROWSxCOLS | terminal.mode MODE | terminal.size ROWSxCOLS")
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
	case "terminal.mode":
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
	default:
		return usagef("config set: unknown field %q", field)
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
	from := fs.String("config-from", "", "JSON file with the config to rebuild the header from (SPEC JSON config form; default: the default config)")
	dry := fs.Bool("dry-run", false, "report what would change, write nothing")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("config repair [--file F] [--config-from JSON] [--dry-run]")
	}
	var cfg *config.Config
	if *from != "" {
		j, err := os.ReadFile(*from)
		if err != nil {
			return err
		}
		var c config.Config
		if err := json.Unmarshal(j, &c); err != nil {
			return jsonInputError(err)
		}
		cfg = &c
	}
	unlock, err := atomicfile.Lock(*file)
	if err != nil {
		return err
	}
	defer unlock()
	b, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	out, rep, err := lockfile.Repair(b, cfg)
	if err != nil {
		return err
	}
	if !rep.Repaired {
		fmt.Fprintf(e.stdout, "%s is valid (%d packages): nothing to repair\n", *file, rep.Packages)
		return nil
	}
	fmt.Fprintf(e.stdout, "found: %v\n", rep.Found)
	for _, c := range rep.Changes {
		fmt.Fprintf(e.stdout, "  0x%02X %-13s %s -> %s\n", c.Offset, c.Field, c.Old, c.New)
	}
	fmt.Fprintf(e.stdout, "kept all %d packages\n", rep.Packages)
	if *dry {
		fmt.Fprintln(e.stdout, "dry run: nothing written")
		return nil
	}
	if err := atomicfile.Write(*file, out, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "repaired %s\n", *file)
	return nil
}

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
	c, err := e.update(*file, func(c config.Config) (config.Config, error) {
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
	if len(args) == 0 || args[0] != "export" {
		return usagef("config env export --format shell|dotenv|json")
	}
	fs := newFlags("config env export")
	file := e.fileFlag(fs)
	format := fs.String("format", config.FormatShell, "shell, dotenv or json")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("config env export --format shell|dotenv|json")
	}
	c, err := e.effective(*file)
	if err != nil {
		return err
	}
	url := ""
	if v, ok := e.lookup(config.EnvRegistry); ok {
		url, _ = config.NormalizeRegistryURL(v)
	} else if c.RegistryHash == config.DefaultRegistryHash {
		url = config.DefaultRegistry
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
