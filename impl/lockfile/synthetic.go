package lockfile

import (
	"crypto/sha512"
	"encoding/base64"
	"fmt"

	"github.com/bun13/bun13/impl/config"
)

// Synthetic builds a valid lockfile of n packages, sorted, with up to
// three dependencies and a mix of flags each: the large input of the
// benchmarks and of size tests.
func Synthetic(n int) *Lockfile {
	lf := &Lockfile{Config: config.Default(), Packages: make([]Package, n)}
	for i := range lf.Packages {
		name := fmt.Sprintf("pkg-%06d", i)
		if i%3 == 0 {
			name = fmt.Sprintf("@scope%d/pkg-%06d", i%7, i)
		}
		sum := sha512.Sum512([]byte(name))
		p := Package{
			Name:      name,
			Version:   fmt.Sprintf("%d.%d.%d", i%5, i%11, i%13),
			Resolved:  fmt.Sprintf("https://registry.npmjs.org/%s/-/pkg-%06d.tgz", name, i),
			Integrity: "sha512-" + base64.StdEncoding.EncodeToString(sum[:]),
			Flags:     PkgFlags(i % 8),
		}
		for d := 1; d <= 3 && i+d*17 < n; d++ {
			p.Dependencies = append(p.Dependencies, uint32(i+d*17))
		}
		lf.Packages[i] = p
	}
	return lf
}
