package packument

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/bun13/bun13/impl/registry/pkgname"
	tarcheck "github.com/bun13/bun13/impl/registry/tarball"
)

// fromTarball checks the fields of a published manifest that must agree
// with the tarball's own package.json (manifest confusion: clients,
// audits and --ignore-scripts policies trust the packument, installers
// run the tarball): name, version, dependencies, optionalDependencies,
// peerDependencies, bin, scripts (install-time), os, cpu, engines. The
// stored version carries the tarball's values of all of them, and
// hasInstallScript is computed from the tarball.

// installScripts are the lifecycle scripts an install of a registry
// tarball runs (npm's hasInstallScript rule).
var installScripts = []string{"preinstall", "install", "postinstall"}

// fromTarball opens tgz, compares its package.json with the client's
// manifest m of name@version, and returns the values to store in place of
// the client's (a nil value means: remove the field). Differences are 400s
// naming the field.
func fromTarball(name, version string, m Manifest, tgz []byte, lim tarcheck.Limits) (map[string]json.RawMessage, error) {
	info, err := tarcheck.Inspect(bytes.NewReader(tgz), lim)
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "attachment: %v", err)
	}
	var pj Manifest
	if err := json.Unmarshal(info.Manifest, &pj); err != nil || pj == nil {
		return nil, Errorf(http.StatusBadRequest, "attachment: %s/package.json is not a JSON object", info.Root)
	}
	bad := func(field, why string) error {
		return Errorf(http.StatusBadRequest, "manifest confusion: %q in the publish manifest differs from the tarball's %s/package.json (%s); publish the manifest of the tarball", field, info.Root, why)
	}
	if got := RawString(pj["name"]); got != name {
		return nil, bad("name", fmt.Sprintf("the tarball says %q, the publish %q", got, name))
	}
	if got := cleanVersion(RawString(pj["version"])); got != version {
		return nil, bad("version", fmt.Sprintf("the tarball says %q, the publish %q", got, version))
	}
	out := map[string]json.RawMessage{}

	// Dependencies. npm may copy optionalDependencies into dependencies
	// (normalize-package-data) or not (@npmcli/package-json), so both
	// sides drop from dependencies the names that are optional.
	type depSide struct{ deps, opt, peer map[string]string }
	sides := [2]depSide{}
	for i, src := range []Manifest{m, pj} {
		where := "publish manifest"
		if i == 1 {
			where = "tarball"
		}
		var err error
		var s depSide
		if s.deps, err = stringMap(src["dependencies"]); err != nil {
			return nil, Errorf(http.StatusBadRequest, "%s: dependencies: %v", where, err)
		}
		if s.opt, err = stringMap(src["optionalDependencies"]); err != nil {
			return nil, Errorf(http.StatusBadRequest, "%s: optionalDependencies: %v", where, err)
		}
		if s.peer, err = stringMap(src["peerDependencies"]); err != nil {
			return nil, Errorf(http.StatusBadRequest, "%s: peerDependencies: %v", where, err)
		}
		for k := range s.opt {
			delete(s.deps, k)
		}
		sides[i] = s
	}
	for _, f := range []struct {
		field string
		a, b  map[string]string
	}{
		{"dependencies", sides[0].deps, sides[1].deps},
		{"optionalDependencies", sides[0].opt, sides[1].opt},
		{"peerDependencies", sides[0].peer, sides[1].peer},
	} {
		if k, ok := mapDiff(f.a, f.b, normalizeSpec); !ok {
			return nil, bad(f.field, "entry "+k)
		}
		out[f.field] = pj[f.field]
	}

	// bin: npm normalizes a string to {name: path}, paths to no "./",
	// and directories.bin to one entry per file.
	mb, err := binMap(m, name, nil)
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "publish manifest: bin: %v", err)
	}
	tb, err := binMap(pj, name, info)
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "tarball: bin: %v", err)
	}
	if k, ok := mapDiff(mb, tb, nil); !ok {
		return nil, bad("bin", "entry "+k)
	}
	if len(tb) > 0 {
		out["bin"] = RawJSON(tb)
	} else {
		out["bin"] = nil
	}

	// scripts: the install-time ones must agree; the stored scripts are
	// the tarball's, with npm's implicit "node-gyp rebuild".
	ms, err := stringMap(m["scripts"])
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "publish manifest: scripts: %v", err)
	}
	ts, err := stringMap(pj["scripts"])
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "tarball: scripts: %v", err)
	}
	if ts["install"] == "" && ts["preinstall"] == "" && info.Has("binding.gyp") && string(pj["gypfile"]) != "false" {
		ts["install"] = "node-gyp rebuild"
	}
	for _, k := range installScripts {
		if ms[k] != ts[k] {
			return nil, bad("scripts", fmt.Sprintf("scripts.%s: the tarball has %q, the publish %q", k, ts[k], ms[k]))
		}
	}
	hasInstall := false
	for _, k := range installScripts {
		if ts[k] != "" {
			hasInstall = true
		}
	}
	if len(ts) > 0 {
		out["scripts"] = RawJSON(ts)
	} else {
		out["scripts"] = nil
	}
	if hasInstall {
		out["hasInstallScript"] = json.RawMessage("true")
	} else {
		out["hasInstallScript"] = nil
	}

	// os, cpu: lists (order does not matter); engines: a map.
	for _, f := range []string{"os", "cpu"} {
		a, err := stringList(m[f])
		if err != nil {
			return nil, Errorf(http.StatusBadRequest, "publish manifest: %s: %v", f, err)
		}
		b, err := stringList(pj[f])
		if err != nil {
			return nil, Errorf(http.StatusBadRequest, "tarball: %s: %v", f, err)
		}
		if !slices.Equal(a, b) {
			return nil, bad(f, fmt.Sprintf("the tarball has %q, the publish %q", b, a))
		}
		out[f] = pj[f]
	}
	me, err := stringMap(m["engines"])
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "publish manifest: engines: %v", err)
	}
	te, err := stringMap(pj["engines"])
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "tarball: engines: %v", err)
	}
	if k, ok := mapDiff(me, te, strings.TrimSpace); !ok {
		return nil, bad("engines", "entry "+k)
	}
	out["engines"] = pj["engines"]
	return out, nil
}

// cleanVersion is semver.clean for the forms npm accepts in package.json:
// surrounding space and a leading "v" or "=".
func cleanVersion(v string) string {
	v = strings.TrimSpace(v)
	v = strings.TrimLeft(v, "=v")
	return strings.TrimSpace(v)
}

// normalizeSpec is npm's normalization of a dependency spec: trimmed, and
// the GitHub shorthand "user/repo" written as "github:user/repo".
func normalizeSpec(s string) string {
	s = strings.TrimSpace(s)
	if u, r, ok := strings.Cut(s, "/"); ok && u != "" && r != "" && !strings.ContainsAny(s, ":@ <>=^~|*") &&
		!strings.HasPrefix(s, ".") && !strings.Contains(r, "/") {
		return "github:" + s
	}
	return s
}

// stringMap decodes a JSON object of strings; missing and null are empty;
// non-string values are dropped, as npm's normalization drops them.
func stringMap(raw json.RawMessage) (map[string]string, error) {
	out := map[string]string{}
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("not an object")
	}
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		}
	}
	return out, nil
}

// stringList decodes a JSON list of strings (or one string), sorted.
func stringList(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("not a list of strings")
	}
	slices.Sort(l)
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// mapDiff compares two maps (values through norm when set) and names the
// first differing key.
func mapDiff(a, b map[string]string, norm func(string) string) (string, bool) {
	if norm == nil {
		norm = func(s string) string { return s }
	}
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		va, oka := a[k]
		vb, okb := b[k]
		if oka != okb || norm(va) != norm(vb) {
			return fmt.Sprintf("%q: the tarball has %q, the publish %q", k, vb, va), false
		}
	}
	return "", true
}

// binMap is npm's normalized bin of manifest m: a string is {bare name:
// path}; keys are base names; paths lose "./" and backslashes. Without
// bin, directories.bin lists the files under it (when info is known).
func binMap(m Manifest, name string, info *tarcheck.Info) (map[string]string, error) {
	out := map[string]string{}
	raw := m["bin"]
	if len(raw) == 0 || string(raw) == "null" {
		if info == nil {
			return out, nil
		}
		var dirs map[string]json.RawMessage
		if json.Unmarshal(m["directories"], &dirs) != nil {
			return out, nil
		}
		dir := cleanBinPath(RawString(dirs["bin"]))
		if dir == "" {
			return out, nil
		}
		for _, f := range info.Files {
			if strings.HasPrefix(f, dir+"/") && !strings.HasPrefix(path.Base(f), ".") {
				out[path.Base(f)] = f
			}
		}
		return out, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		_, bare := pkgname.Split(name)
		if p := cleanBinPath(one); p != "" {
			out[bare] = p
		}
		return out, nil
	}
	m2, err := stringMap(raw)
	if err != nil {
		return nil, err
	}
	for k, v := range m2 {
		key := path.Base("/" + strings.NewReplacer("\\", "/", ":", "/").Replace(k))
		p := cleanBinPath(v)
		if key == "" || key == "/" || key == "." || p == "" {
			continue
		}
		out[key] = p
	}
	return out, nil
}

func cleanBinPath(p string) string {
	p = path.Join("/", strings.ReplaceAll(p, "\\", "/"))[1:]
	return p
}
