package cases

import (
	"encoding/base64"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/lockfile"
)

// Builders of valid values at the SPEC's edges. Everything random takes an
// explicit *rand.Rand so that a seed fixes the output.

const (
	nameChars  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!*'()"
	firstChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-~!*'()"
	identChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
	// urlChars is every byte 0x21..0x7e.
	urlChars = "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
)

func pick(r *rand.Rand, s string) byte { return s[r.IntN(len(s))] }

func randString(r *rand.Rand, chars string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = pick(r, chars)
	}
	return string(b)
}

// segment is a valid name segment of exactly n bytes.
func segment(r *rand.Rand, n int) string {
	return string(pick(r, firstChars)) + randString(r, nameChars, n-1)
}

// Name is a valid package name of exactly n bytes (n >= 1; scoped needs n >= 4).
func Name(r *rand.Rand, n int, scoped bool) string {
	if scoped && n >= 4 {
		s := 1 + r.IntN(n-3)
		return "@" + segment(r, s) + "/" + segment(r, n-2-s)
	}
	return segment(r, n)
}

func randName(r *rand.Rand) string {
	switch r.IntN(20) {
	case 0:
		return Name(r, lockfile.MaxNameLen, r.IntN(2) == 0)
	case 1:
		return Name(r, 1, false)
	}
	return Name(r, 2+r.IntN(20), r.IntN(3) == 0)
}

func numIdent(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return "0"
	}
	return string(pick(r, "123456789")) + randString(r, "0123456789", r.IntN(3))
}

// Version is a random valid semantic version; n > 0 pads it to exactly n
// bytes with a pre-release identifier (n >= 7).
func Version(r *rand.Rand, n int) string {
	v := numIdent(r) + "." + numIdent(r) + "." + numIdent(r)
	if n > 0 {
		return v + "-" + randString(r, "abcdefghijklmnopqrstuvwxyz", 1) + randString(r, identChars, n-len(v)-2)
	}
	if r.IntN(3) == 0 {
		parts := []string{}
		for range 1 + r.IntN(3) {
			if r.IntN(2) == 0 {
				parts = append(parts, numIdent(r))
			} else {
				// Alphanumeric identifiers may start with digits, even 0.
				parts = append(parts, randString(r, "0123456789", r.IntN(2))+randString(r, "abcdefghijklmnopqrstuvwxyz-", 1)+randString(r, identChars, r.IntN(5)))
			}
		}
		v += "-" + strings.Join(parts, ".")
	}
	if r.IntN(4) == 0 {
		parts := []string{}
		for range 1 + r.IntN(2) {
			parts = append(parts, randString(r, identChars, 1+r.IntN(6)))
		}
		v += "+" + strings.Join(parts, ".")
	}
	return v
}

func randVersion(r *rand.Rand) string {
	if r.IntN(20) == 0 {
		return Version(r, lockfile.MaxVersionLen)
	}
	return Version(r, 0)
}

// Resolved is a valid tarball URL; n > 0 pads it to exactly n bytes with
// every byte 0x21..0x7e.
func Resolved(r *rand.Rand, name string, n int) string {
	scheme := "https://"
	if r.IntN(4) == 0 {
		scheme = "http://"
	}
	u := scheme + "registry.example/" + name + "/-/t.tgz"
	if n > 0 {
		u = scheme + "r/"
		u += randString(r, urlChars, n-len(u))
	}
	return u
}

func randResolved(r *rand.Rand, name string) string {
	if r.IntN(20) == 0 {
		return Resolved(r, name, lockfile.MaxResolvedLen)
	}
	return Resolved(r, name, 0)
}

// SRI algorithms and their digest sizes (section 3).
var SRIs = []struct {
	Alg  string
	Size int
}{{"sha512", 64}, {"sha384", 48}, {"sha256", 32}, {"sha1", 20}}

// Integrity is a valid SRI of algorithm k with random digest bytes.
func Integrity(r *rand.Rand, k int) string {
	d := make([]byte, SRIs[k].Size)
	for i := range d {
		d[i] = byte(r.UintN(256))
	}
	return SRIs[k].Alg + "-" + base64.StdEncoding.EncodeToString(d)
}

// RandConfig is a random valid config; edges (0, 1, 255, every mode, the
// full mask of each version) come often.
func RandConfig(r *rand.Rand) config.Config {
	v := uint8(r.IntN(3))
	c := config.Config{Version: v, RegistryHash: r.Uint32() | 1<<uint(r.IntN(32)), TerminalMode: config.Mode(r.IntN(3))}
	mask := uint32(config.Mask(v))
	switch r.IntN(4) {
	case 0:
		c.FeatureFlags = config.Flags(mask)
	case 1:
	default:
		c.FeatureFlags = config.Flags(r.Uint32() & mask)
	}
	edge := func() uint8 {
		switch r.IntN(5) {
		case 0:
			return 1
		case 1:
			return 255
		}
		return uint8(1 + r.IntN(255))
	}
	c.Rows, c.Cols = edge(), edge()
	if r.IntN(8) == 0 {
		c.RegistryHash = 1 + uint32(r.IntN(2))*0xfffffffe // 0x00000001 or 0xffffffff
	}
	return c
}

// RandLockfile is a valid lockfile of n packages, sorted, with random
// dependencies (strictly ascending, never the record itself), flags and
// shared strings.
func RandLockfile(r *rand.Rand, n int) *lockfile.Lockfile {
	lf := &lockfile.Lockfile{Config: RandConfig(r)}
	seen := map[[2]string]bool{}
	var lastURL, lastSRI string
	for len(lf.Packages) < n {
		name := randName(r)
		if len(lf.Packages) > 0 && r.IntN(5) == 0 {
			name = lf.Packages[r.IntN(len(lf.Packages))].Name // another version of a package
		}
		p := lockfile.Package{Name: name, Version: randVersion(r), Flags: lockfile.PkgFlags(r.IntN(8))}
		if seen[[2]string{p.Name, p.Version}] {
			continue
		}
		seen[[2]string{p.Name, p.Version}] = true
		p.Resolved = randResolved(r, name)
		p.Integrity = Integrity(r, r.IntN(len(SRIs)))
		if lastURL != "" && r.IntN(6) == 0 {
			p.Resolved = lastURL // shared strings
		}
		if lastSRI != "" && r.IntN(6) == 0 {
			p.Integrity = lastSRI
		}
		lastURL, lastSRI = p.Resolved, p.Integrity
		lf.Packages = append(lf.Packages, p)
	}
	Sort(lf)
	for i := range lf.Packages {
		if n < 2 || r.IntN(3) == 0 {
			continue
		}
		var ds []uint32
		for d := range n {
			if d != i && r.IntN(n) < 3 {
				ds = append(ds, uint32(d))
			}
		}
		lf.Packages[i].Dependencies = ds
	}
	return lf
}

// Sort puts lf's packages in the canonical order; it must hold no
// dependencies yet (indices would not follow).
func Sort(lf *lockfile.Lockfile) {
	slices.SortFunc(lf.Packages, func(a, b lockfile.Package) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
}

// Base3 is the mutations' base: three packages, sorted, with dependencies
// at both ends of the table ([1 2] first, [1] last, none in the middle),
// every flag used, and shared strings.
func Base3() *lockfile.Lockfile {
	sri := "sha1-AAECAwQFBgcICQoLDA0ODxAREhM="
	return &lockfile.Lockfile{
		Config: config.Config{Version: 2, RegistryHash: config.DefaultRegistryHash, FeatureFlags: config.Debug | config.Offline, TerminalMode: config.Cooked, Rows: 24, Cols: 80},
		Packages: []lockfile.Package{
			{Name: "@acme/core", Version: "1.2.3", Resolved: "https://registry.npmjs.org/@acme/core/-/core-1.2.3.tgz",
				Integrity: "sha512-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==", Dependencies: []uint32{1, 2}},
			{Name: "left-pad", Version: "1.3.0", Resolved: "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz", Integrity: sri, Flags: lockfile.Dev},
			{Name: "zed", Version: "2.0.0-beta.1", Resolved: "http://registry.npmjs.org/zed.tgz", Integrity: sri, Dependencies: []uint32{1}, Flags: lockfile.Optional | lockfile.Peer},
		},
	}
}

// MustEncode is lockfile.Encode for inputs known valid.
func MustEncode(lf *lockfile.Lockfile) []byte {
	b, err := lockfile.Encode(lf)
	if err != nil {
		panic("cases: a generated lockfile does not encode: " + err.Error())
	}
	return b
}
