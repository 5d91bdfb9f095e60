package lockfile

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/bun13/bun13/impl/config"
)

// pkgFlagNames are the JSON names of the package flags, sorted.
var pkgFlagNames = [...]struct {
	name string
	flag PkgFlags
}{{"dev", Dev}, {"optional", Optional}, {"peer", Peer}}

type jsonPackage struct {
	Name         string   `json:"name"`
	Version      string   `json:"version"`
	Resolved     string   `json:"resolved"`
	Integrity    string   `json:"integrity"`
	Dependencies []uint32 `json:"dependencies"`
	Flags        []string `json:"flags"`
}

type jsonLockfile struct {
	Config   *config.Config `json:"config"`
	Packages []jsonPackage  `json:"packages"`
}

// Names returns the sorted JSON names of f.
func (f PkgFlags) Names() []string {
	out := []string{}
	for _, n := range pkgFlagNames {
		if f&n.flag != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// MarshalJSON writes the SPEC's JSON form.
func (lf *Lockfile) MarshalJSON() ([]byte, error) {
	j := jsonLockfile{Config: &lf.Config, Packages: make([]jsonPackage, len(lf.Packages))}
	for i, p := range lf.Packages {
		deps := p.Dependencies
		if deps == nil {
			deps = []uint32{}
		}
		j.Packages[i] = jsonPackage{p.Name, p.Version, p.Resolved, p.Integrity, deps, p.Flags.Names()}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the SPEC's JSON form. Unknown fields and flag names
// are errors, so a typo never silently drops data.
func (lf *Lockfile) UnmarshalJSON(b []byte) error {
	var j jsonLockfile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	if j.Config == nil {
		return fmt.Errorf("lockfile JSON: config is required")
	}
	out := Lockfile{Config: *j.Config, Packages: make([]Package, len(j.Packages))}
	for i, p := range j.Packages {
		var f PkgFlags
		for _, name := range p.Flags {
			known := false
			for _, n := range pkgFlagNames {
				if n.name == name {
					f |= n.flag
					known = true
				}
			}
			if !known {
				return packageError(i, "unknown flag %q (want dev, optional or peer)", name)
			}
		}
		out.Packages[i] = Package{p.Name, p.Version, p.Resolved, p.Integrity, p.Dependencies, f}
	}
	*lf = out
	return nil
}

// JSON is the indented JSON form the CLI prints.
func (lf *Lockfile) JSON() ([]byte, error) {
	b, err := lf.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
