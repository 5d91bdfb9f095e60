package props

import (
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"testing"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/lockfile"
)

// params reads PROPS_SEED and PROPS_COUNT; count scales the default.
func params(t *testing.T, defaultCount int) *gopter.TestParameters {
	seed := int64(20261122)
	if s := os.Getenv("PROPS_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("PROPS_SEED: %v", err)
		}
		seed = v
	}
	count := defaultCount
	if s := os.Getenv("PROPS_COUNT"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("PROPS_COUNT: %v", err)
		}
		count = v
	}
	p := gopter.DefaultTestParametersWithSeed(seed)
	p.MinSuccessfulTests = count
	p.MaxShrinkCount = 200
	t.Logf("PROPS_SEED=%d PROPS_COUNT=%d", seed, count)
	return p
}

func newProps(t *testing.T, count int) *gopter.Properties {
	return gopter.NewProperties(params(t, count))
}

// genConfig generates valid configs of every version.
func genConfig() gopter.Gen {
	return gopter.CombineGens(
		gen.UInt8Range(0, config.MaxVersion),
		gen.UInt32Range(1, 1<<32-1),
		gen.UInt32(),
		gen.UInt8Range(0, 2),
		gen.UInt8Range(1, 255),
		gen.UInt8Range(1, 255),
	).Map(func(v []any) config.Config {
		ver := v[0].(uint8)
		return config.Config{
			Version:      ver,
			RegistryHash: v[1].(uint32),
			FeatureFlags: config.Flags(v[2].(uint32)) & config.Mask(ver),
			TerminalMode: config.Mode(v[3].(uint8)),
			Rows:         v[4].(uint8),
			Cols:         v[5].(uint8),
		}
	})
}

// genName generates package names from the SPEC's alphabet, scoped or not.
func genName() gopter.Gen {
	seg := gen.RegexMatch(`[a-z0-9~!*'()-][a-zA-Z0-9._~!*'()-]{0,12}`)
	return gopter.CombineGens(gen.Bool(), seg, seg).Map(func(v []any) string {
		if v[0].(bool) {
			return "@" + v[1].(string) + "/" + v[2].(string)
		}
		return v[2].(string)
	})
}

func genVersion() gopter.Gen {
	return gen.RegexMatch(`(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})(-(alpha|beta|rc|0|[1-9][0-9]?|[0-9]{0,3}[a-z-][a-z0-9-]{0,5})(\.(0|[1-9]|x-y))?)?(\+build\.[0-9a-z]{1,4})?`)
}

type pkgSeed struct {
	Name, Version  string
	Dev, Opt, Peer bool
	DepSeeds       []uint8
	SHA1           bool
}

func genPkgSeed() gopter.Gen {
	return gopter.CombineGens(genName(), genVersion(), gen.Bool(), gen.Bool(), gen.Bool(), gen.SliceOfN(3, gen.UInt8()), gen.Bool()).
		Map(func(v []any) pkgSeed {
			return pkgSeed{v[0].(string), v[1].(string), v[2].(bool), v[3].(bool), v[4].(bool), v[5].([]uint8), v[6].(bool)}
		})
}

// genLockfile generates valid lockfiles of up to max packages: unique
// name@version, valid dependency indices, every flag combination.
func genLockfile(max int) gopter.Gen {
	seeds := gen.IntRange(0, max).FlatMap(func(n any) gopter.Gen {
		return gen.SliceOfN(n.(int), genPkgSeed())
	}, reflect.TypeOf([]pkgSeed(nil)))
	return gopter.CombineGens(genConfig(), seeds).
		Map(func(v []any) *lockfile.Lockfile { return buildLockfile(v[0].(config.Config), v[1].([]pkgSeed)) })
}

func buildLockfile(c config.Config, seeds []pkgSeed) *lockfile.Lockfile {
	lf := &lockfile.Lockfile{Config: c}
	seen := map[string]bool{}
	var depSeeds [][]uint8
	for _, s := range seeds {
		key := s.Name + "@" + s.Version
		if seen[key] || len(s.Name) > lockfile.MaxNameLen {
			continue
		}
		seen[key] = true
		p := lockfile.Package{
			Name:     s.Name,
			Version:  s.Version,
			Resolved: fmt.Sprintf("https://registry.example/%s/-/x-%s.tgz", s.Name, s.Version),
		}
		if s.SHA1 {
			sum := sha1.Sum([]byte(key))
			p.Integrity = "sha1-" + base64.StdEncoding.EncodeToString(sum[:])
		} else {
			sum := sha512.Sum512([]byte(key))
			p.Integrity = "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
		}
		if s.Dev {
			p.Flags |= lockfile.Dev
		}
		if s.Opt {
			p.Flags |= lockfile.Optional
		}
		if s.Peer {
			p.Flags |= lockfile.Peer
		}
		lf.Packages = append(lf.Packages, p)
		depSeeds = append(depSeeds, s.DepSeeds)
	}
	// Dependencies refer to input positions; Encode renumbers them.
	for i := range lf.Packages {
		used := map[uint32]bool{}
		for _, d := range depSeeds[i] {
			j := uint32(int(d) % len(lf.Packages))
			if int(j) != i && !used[j] {
				used[j] = true
				lf.Packages[i].Dependencies = append(lf.Packages[i].Dependencies, j)
			}
		}
	}
	return lf
}
