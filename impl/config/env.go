package config

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/bun13/bun13/impl/codes"
)

// Environment variables of SPEC section 6.
const (
	EnvVersion  = "BUN_CONFIG_VERSION"
	EnvRegistry = "BUN_CONFIG_REGISTRY"
	EnvFlags    = "BUN_CONFIG_FEATURE_FLAGS"
	EnvTerminal = "BUN_CONFIG_TERMINAL"
	EnvLockfile = "BUN_LOCKFILE"
)

// ApplyEnv overrides c with the environment (lookup is os.LookupEnv in
// production). Precedence: a set variable beats the file's value, field by
// field; unset variables leave the file's value. An invalid value is an
// error naming the variable, and so is a combination that leaves an invalid
// config (say BUN_CONFIG_VERSION=0 over a file with flags set): the caller
// never gets a config that an invalid variable produced.
func ApplyEnv(c Config, lookup func(string) (string, bool)) (Config, error) {
	var set []string
	if v, ok := lookup(EnvVersion); ok {
		n, err := ParseDecimal(strings.TrimSpace(v))
		if err != nil || n > MaxVersion {
			return Config{}, codes.Named(codes.UnsupportedVersion, EnvVersion, "%q, want 0..%d", v, MaxVersion)
		}
		c.Version = uint8(n)
		set = append(set, EnvVersion)
	}
	if v, ok := lookup(EnvRegistry); ok {
		h, err := RegistryHash(v)
		if err != nil {
			return Config{}, codes.Named(codes.RegistryURL, EnvRegistry, "%v", err)
		}
		c.RegistryHash = h
		set = append(set, EnvRegistry)
	}
	if v, ok := lookup(EnvFlags); ok {
		f, err := ParseFlags(v)
		if err != nil {
			return Config{}, codes.Named(codes.UnknownFeature, EnvFlags, "%v", err)
		}
		c.FeatureFlags = f
		set = append(set, EnvFlags)
	}
	if v, ok := lookup(EnvTerminal); ok {
		m, r, cols, err := ParseTerminal(strings.TrimSpace(v))
		if err != nil {
			return Config{}, codes.Named(codes.Of(err), EnvTerminal, "%q: %v", v, err)
		}
		c.TerminalMode, c.Rows, c.Cols = m, r, cols
		set = append(set, EnvTerminal)
	}
	if err := c.Validate(); err != nil && len(set) > 0 {
		return Config{}, codes.Named(codes.Of(err), strings.Join(set, ","), "the environment leaves an invalid config: %v", err)
	} else if err != nil {
		return Config{}, err
	}
	return c, nil
}

// Export formats.
const (
	FormatShell  = "shell"
	FormatDotenv = "dotenv"
	FormatJSON   = "json"
)

// EnvVars returns the variables that reproduce c when ApplyEnv reads
// them: only variables the loader reads. registryURL is included when
// known (the config itself only holds its hash, and the loader takes a
// URL), so without it the registry hash is not exported.
func EnvVars(c Config, registryURL string) map[string]string {
	m := map[string]string{
		EnvVersion:  strconv.Itoa(int(c.Version)),
		EnvFlags:    c.FeatureFlags.Hex(),
		EnvTerminal: c.Terminal(),
	}
	if registryURL != "" {
		m[EnvRegistry] = registryURL
	}
	return m
}

// Export writes EnvVars(c, registryURL) in format shell, dotenv or json.
func Export(c Config, registryURL, format string) ([]byte, error) {
	vars := EnvVars(c, registryURL)
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	var sb strings.Builder
	switch format {
	case FormatShell:
		for _, k := range names {
			// Single quotes need no escaping but of the quote itself.
			fmt.Fprintf(&sb, "export %s='%s'\n", k, strings.ReplaceAll(vars[k], "'", `'\''`))
		}
	case FormatDotenv:
		for _, k := range names {
			fmt.Fprintf(&sb, "%s=%s\n", k, vars[k])
		}
	case FormatJSON:
		b, err := json.MarshalIndent(vars, "", "  ")
		if err != nil {
			return nil, err
		}
		return append(b, '\n'), nil
	default:
		return nil, fmt.Errorf("unknown format %q (want shell, dotenv or json)", format)
	}
	return []byte(sb.String()), nil
}

// SourceFile is the source of a field that no variable overrides.
const SourceFile = "file"

// FieldSource says where one field of the effective config comes from:
// SourceFile, or the name of the variable that overrides it.
type FieldSource struct {
	Field  string `json:"field"`
	Source string `json:"source"`
}

// Fields are the config's field names in SPEC order (the JSON form's keys).
var Fields = []string{"version", "registryHash", "featureFlags", "terminalMode", "rows", "cols"}

// fieldEnv is the variable that overrides each field.
var fieldEnv = map[string]string{
	"version": EnvVersion, "registryHash": EnvRegistry, "featureFlags": EnvFlags,
	"terminalMode": EnvTerminal, "rows": EnvTerminal, "cols": EnvTerminal,
}

// Sources returns, for each field of Fields in order, where its effective
// value comes from under lookup (nil: everything from the file).
func Sources(lookup func(string) (string, bool)) []FieldSource {
	out := make([]FieldSource, len(Fields))
	for i, f := range Fields {
		out[i] = FieldSource{Field: f, Source: SourceFile}
		if lookup != nil {
			if _, ok := lookup(fieldEnv[f]); ok {
				out[i].Source = fieldEnv[f]
			}
		}
	}
	return out
}
