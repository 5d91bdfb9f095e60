package cases

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/lockfile"
)

type edgeFile struct {
	name string
	lf   *lockfile.Lockfile
}

// pkg is a valid package with short strings, for edge files.
func pkg(name, version string) lockfile.Package {
	return lockfile.Package{Name: name, Version: version, Resolved: "https://r/" + name + ".tgz", Integrity: "sha1-AAECAwQFBgcICQoLDA0ODxAREhM="}
}

// edgeFiles are valid lockfiles at every field rule's edge (section 3).
func edgeFiles(r *rand.Rand) []edgeFile {
	var out []edgeFile
	add := func(name string, c config.Config, ps ...lockfile.Package) {
		out = append(out, edgeFile{name, &lockfile.Lockfile{Config: c, Packages: ps}})
	}
	def := config.Default()
	cfg := func(f func(*config.Config)) config.Config { c := def; f(&c); return c }
	add("zero-packages", def)
	add("config-v0-no-flags", cfg(func(c *config.Config) { c.Version, c.FeatureFlags = 0, 0 }))
	add("config-v1-all-flags", cfg(func(c *config.Config) { c.FeatureFlags = 0xff }))
	add("config-v2-all-flags", cfg(func(c *config.Config) { c.Version, c.FeatureFlags = 2, 0x3ff }))
	add("config-mode-none-1x1", cfg(func(c *config.Config) { c.TerminalMode, c.Rows, c.Cols = config.None, 1, 1 }))
	add("config-mode-raw-255x255", cfg(func(c *config.Config) { c.TerminalMode, c.Rows, c.Cols = config.Raw, 255, 255 }))
	add("config-registry-hash-1", cfg(func(c *config.Config) { c.RegistryHash = 1 }))
	add("config-registry-hash-max", cfg(func(c *config.Config) { c.RegistryHash = 0xffffffff }), pkg("a", "1.0.0"))
	add("name-1-byte", def, pkg("a", "1.0.0"))
	add("name-214-bytes", def, pkg(Name(r, 214, false), "1.0.0"))
	add("name-scoped-214-bytes", def, pkg(Name(r, 214, true), "1.0.0"))
	add("name-every-allowed-byte", def, pkg("0-9azAZ~!*'().-_x", "1.0.0"), pkg("@~!*'()/a.-_", "1.0.0"))
	add("name-legacy-upper-case-sorts-first", def, pkg("Zed", "1.0.0"), pkg("apple", "1.0.0"))
	add("version-256-bytes", def, pkg("a", Version(r, 256)))
	add("version-prerelease-and-build", def, pkg("a", "1.0.0-0a.x-y.0"), pkg("b", "1.0.0+001.Z-z"), pkg("c", "0.0.0-alpha.1+build.2"), pkg("d", "10.20.30-rc.1+sha.5114f85"))
	add("versions-by-bytes-not-precedence", def, pkg("same", "1.10.0"), pkg("same", "1.9.0"), pkg("same", "1.9.0-rc.1"))
	long := pkg("a", "1.0.0")
	long.Resolved = Resolved(r, "a", 2048)
	add("resolved-2048-bytes", def, long)
	every := pkg("b", "1.0.0")
	every.Resolved = "http://" + urlChars
	add("resolved-every-byte-0x21-0x7e", def, every)
	var sris []lockfile.Package
	for k, s := range SRIs {
		p := pkg("sri-"+s.Alg, "1.0.0")
		p.Integrity = Integrity(r, k)
		sris = append(sris, p)
	}
	add("integrity-every-algorithm", def, sris...)
	var flags []lockfile.Package
	for f := range 8 {
		p := pkg(fmt.Sprintf("flags-%d", f), "1.0.0")
		p.Flags = lockfile.PkgFlags(f)
		flags = append(flags, p)
	}
	add("package-every-flag-set", def, flags...)
	b3 := Base3()
	add("dependencies-at-both-ends", b3.Config, b3.Packages...)
	var full []lockfile.Package
	for i := range 6 {
		p := pkg(fmt.Sprintf("full-%d", i), "1.0.0")
		for d := range 6 {
			if d != i {
				p.Dependencies = append(p.Dependencies, uint32(d))
			}
		}
		full = append(full, p)
	}
	add("dependencies-on-every-other", def, full...)
	gaps := []lockfile.Package{pkg("g0", "1.0.0"), pkg("g1", "1.0.0"), pkg("g2", "1.0.0"), pkg("g3", "1.0.0")}
	gaps[1].Dependencies = []uint32{0, 3}
	gaps[3].Dependencies = []uint32{2}
	add("dependencies-none-between", def, gaps...)
	shared := []lockfile.Package{pkg("1.0.0", "1.0.0"), pkg("x", "1.0.0"), pkg("y", "1.0.0")}
	shared[1].Resolved, shared[2].Resolved = shared[0].Resolved, shared[0].Resolved
	add("shared-strings-across-records-and-fields", def, shared...)
	add("synthetic-300", def, lockfile.Synthetic(300).Packages...)
	// 214 bytes of '~', the allowed byte that sorts last.
	add("name-all-tildes", def, pkg(strings.Repeat("~", 214), "1.0.0"))
	return out
}
