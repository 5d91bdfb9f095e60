package packument

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"

	"github.com/bun13/bun13/impl/registry/pkgname"
)

// topLevel are the fields the public registry copies from the latest
// version to the top of the packument, in its order.
var topLevel = []string{"description", "homepage", "keywords", "repository", "author", "bugs", "license"}

// abbreviatedFields are the manifest fields of the abbreviated
// ("application/vnd.npm.install-v1+json") packument: what an installer
// needs and nothing else.
var abbreviatedFields = []string{
	"name", "version", "deprecated", "dependencies", "optionalDependencies",
	"devDependencies", "bundleDependencies", "bundledDependencies", "peerDependencies",
	"peerDependenciesMeta", "acceptDependencies", "bin", "directories", "dist", "engines",
	"_hasShrinkwrap", "hasInstallScript", "cpu", "os", "libc", "funding", "license",
}

// TarballURL is where a version's tarball is served: the public
// registry's layout, /NAME/-/BARE-VERSION.tgz.
func TarballURL(base, name, version string) string {
	return base + "/" + name + "/-/" + url.PathEscape(pkgname.TarballFile(name, version))
}

// renderDist returns the stored dist with tarball set for base.
func renderDist(raw json.RawMessage, base, name, version string) json.RawMessage {
	dist := map[string]json.RawMessage{}
	_ = json.Unmarshal(raw, &dist)
	dist["tarball"] = RawJSON(TarballURL(base, name, version))
	b, _ := json.Marshal(dist)
	return b
}

// RenderFull writes the full packument of a live d for clients reaching
// the server at base (scheme://host[:port][/path], no trailing slash).
func (d *Doc) RenderFull(base string) []byte {
	var b bytes.Buffer
	b.Grow(1024 * (1 + len(d.Versions)))
	vs := d.SortedVersions()
	b.WriteString(`{"_id":`)
	writeJSON(&b, d.Name)
	b.WriteString(`,"_rev":`)
	writeJSON(&b, d.CouchRev())
	b.WriteString(`,"name":`)
	writeJSON(&b, d.Name)
	if latest, ok := d.Versions[d.DistTags["latest"]]; ok {
		for _, f := range topLevel {
			if raw, ok := latest[f]; ok {
				b.WriteString(`,`)
				writeJSON(&b, f)
				b.WriteByte(':')
				b.Write(raw)
			}
		}
	}
	b.WriteString(`,"dist-tags":`)
	writeJSON(&b, d.DistTags)
	b.WriteString(`,"versions":{`)
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSON(&b, v)
		b.WriteByte(':')
		m := d.Versions[v]
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for j, k := range keys {
			if j > 0 {
				b.WriteByte(',')
			}
			writeJSON(&b, k)
			b.WriteByte(':')
			if k == "dist" {
				b.Write(renderDist(m[k], base, d.Name, v))
			} else {
				b.Write(m[k])
			}
		}
		b.WriteByte('}')
	}
	b.WriteString(`},"time":{`)
	writeTime(&b, d.Time)
	b.WriteString(`},"maintainers":`)
	ms := d.Maintainers
	if ms == nil {
		ms = []Person{}
	}
	writeJSON(&b, ms)
	if d.Readme != "" {
		b.WriteString(`,"readme":`)
		writeJSON(&b, d.Readme)
		if d.ReadmeFilename != "" {
			b.WriteString(`,"readmeFilename":`)
			writeJSON(&b, d.ReadmeFilename)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

// writeTime writes created and modified first, then versions in semver
// order, then anything else.
func writeTime(b *bytes.Buffer, t map[string]string) {
	first := true
	put := func(k string) {
		v, ok := t[k]
		if !ok {
			return
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeJSON(b, k)
		b.WriteByte(':')
		writeJSON(b, v)
	}
	put("created")
	put("modified")
	var vs, other []string
	for k := range t {
		switch {
		case k == "created" || k == "modified":
		case pkgname.ValidateVersion(k) == nil:
			vs = append(vs, k)
		default:
			other = append(other, k)
		}
	}
	slices.SortFunc(vs, pkgname.CompareVersions)
	slices.Sort(other)
	for _, k := range vs {
		put(k)
	}
	for _, k := range other {
		put(k)
	}
}

// RenderAbbreviated writes the install-v1 packument.
func (d *Doc) RenderAbbreviated(base string) []byte {
	var b bytes.Buffer
	b.Grow(512 * (1 + len(d.Versions)))
	b.WriteString(`{"name":`)
	writeJSON(&b, d.Name)
	b.WriteString(`,"modified":`)
	writeJSON(&b, d.Time["modified"])
	b.WriteString(`,"dist-tags":`)
	writeJSON(&b, d.DistTags)
	b.WriteString(`,"versions":{`)
	for i, v := range d.SortedVersions() {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSON(&b, v)
		b.WriteString(":{")
		m := d.Versions[v]
		first := true
		for _, k := range abbreviatedFields {
			raw, ok := m[k]
			if !ok {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			writeJSON(&b, k)
			b.WriteByte(':')
			if k == "dist" {
				b.Write(renderDist(raw, base, d.Name, v))
			} else {
				b.Write(raw)
			}
		}
		b.WriteByte('}')
	}
	b.WriteString("}}")
	return b.Bytes()
}

// RenderVersion writes one version's manifest as the full packument has it.
func (d *Doc) RenderVersion(base, v string) []byte {
	m := d.Versions[v]
	out := make(map[string]json.RawMessage, len(m))
	for k, raw := range m {
		out[k] = raw
	}
	out["dist"] = renderDist(m["dist"], base, d.Name, v)
	b, _ := json.Marshal(out)
	return b
}

func writeJSON(b *bytes.Buffer, v any) {
	enc, _ := json.Marshal(v)
	b.Write(enc)
}
