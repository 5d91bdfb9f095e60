package props

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
)

func TestMigrationRoundTrip(t *testing.T) {
	p := newProps(t, 2000)
	p.Property("up then down restores the config when the flags allow", prop.ForAll(func(c config.Config, to uint8) string {
		up, err := c.Migrate(to)
		if to < c.Version {
			// Going down: refused exactly when a set flag is undefined there.
			refuse := c.FeatureFlags&^config.Mask(to) != 0
			if refuse != (err != nil) {
				return fmt.Sprintf("down %d->%d with flags %s: err %v", c.Version, to, c.FeatureFlags, err)
			}
			if err != nil && codes.Of(err) != codes.UnknownFeature {
				return fmt.Sprintf("refusal code %v", err)
			}
			if err != nil && up != c {
				return "a refused migration changed the config"
			}
			return ""
		}
		if err != nil {
			return fmt.Sprintf("up %d->%d refused: %v", c.Version, to, err)
		}
		back, err := up.Migrate(c.Version)
		if err != nil {
			return fmt.Sprintf("down %d->%d refused: %v", to, c.Version, err)
		}
		return cmp.Diff(c, back)
	}, genConfig(), gen.UInt8Range(0, config.MaxVersion)))
	p.TestingRun(t)
}

// envValue is one BUN_CONFIG_* setting, valid or not.
type envValue struct {
	Name, Value string
}

func genEnv() gopter.Gen {
	return gen.OneGenOf(
		gen.UInt8Range(0, 4).Map(func(v uint8) envValue { return envValue{config.EnvVersion, strconv.Itoa(int(v))} }),
		gen.OneConstOf("http://localhost:4873", "https://REGISTRY.example.org:443/npm/", "ftp://nope", "https://u:p@x", "https://x/?q").
			Map(func(v string) envValue { return envValue{config.EnvRegistry, v} }),
		gen.UInt32Range(0, 0x7ff).Map(func(v uint32) envValue { return envValue{config.EnvFlags, fmt.Sprintf("0x%08x", v)} }),
		gen.OneConstOf("DEBUG,METRICS", "OFFLINE|STRICT_INTEGRITY", "NOPE", "").Map(func(v string) envValue { return envValue{config.EnvFlags, v} }),
		gen.OneConstOf("raw;24x80", "none;1x255", "cooked;0x80", "RAW;24x80", "cooked;24x", "cooked;024x80").
			Map(func(v string) envValue { return envValue{config.EnvTerminal, v} }),
	)
}

func TestEnvOverrides(t *testing.T) {
	p := newProps(t, 3000)
	p.Property("env wins over the file, and an invalid env never yields a config", prop.ForAll(func(file config.Config, vars []envValue) string {
		env := map[string]string{}
		for _, v := range vars {
			env[v.Name] = v.Value
		}
		got, err := config.ApplyEnv(file, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		// The expected result, computed field by field and independently.
		want := file
		valid := true
		if v, ok := env[config.EnvVersion]; ok {
			n, perr := strconv.Atoi(v)
			valid = valid && perr == nil && n <= 2
			want.Version = uint8(n)
		}
		if v, ok := env[config.EnvRegistry]; ok {
			h, herr := config.RegistryHash(v)
			valid = valid && herr == nil
			want.RegistryHash = h
		}
		if v, ok := env[config.EnvFlags]; ok {
			f, ferr := config.ParseFlags(v)
			valid = valid && ferr == nil
			want.FeatureFlags = f
		}
		if v, ok := env[config.EnvTerminal]; ok {
			m, r, c, terr := config.ParseTerminal(v)
			valid = valid && terr == nil
			want.TerminalMode, want.Rows, want.Cols = m, r, c
		}
		valid = valid && want.Valid()
		if !valid {
			if err == nil {
				return fmt.Sprintf("invalid env %v yielded %+v", env, got)
			}
			var ce *codes.Error
			if !errors.As(err, &ce) || ce.Name == "" {
				return fmt.Sprintf("error %v does not name the variable", err)
			}
			return ""
		}
		if err != nil {
			return fmt.Sprintf("valid env %v refused: %v", env, err)
		}
		return cmp.Diff(want, got)
	}, genConfig(), gen.SliceOf(genEnv())))
	p.TestingRun(t)
}
