package cases

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/headers"
	"github.com/bun13/bun13/impl/lockfile"
)

// Options select the cases.
type Options struct {
	Seed  uint64
	Count int // random cases per area, beside the fixed ones
	Areas map[Area]bool
	// Lookup is the environment the implementation runs with: `config
	// validate` applies it over the file, as section 6 says.
	Lookup func(string) (string, bool)
}

type builder struct {
	o   Options
	out []Case
}

// Slug is an area as a path element ("lockfile-decode").
func Slug(a Area) string { return strings.ReplaceAll(string(a), " ", "-") }

// lockb adds a lockfile input to the decode and validate areas.
func (g *builder) lockb(name, spec string, b []byte, intent *Intent) {
	if g.o.Areas[LockfileDecode] {
		g.out = append(g.out, Case{Name: Slug(LockfileDecode) + "/" + name, Area: LockfileDecode, Spec: spec, Input: b, Want: RefDecode(b), Intent: intent})
	}
	if g.o.Areas[ConfigValidate] {
		g.out = append(g.out, Case{Name: Slug(ConfigValidate) + "/" + name, Area: ConfigValidate, Spec: spec, Input: b, Want: RefValidate(b, g.o.Lookup), Intent: intent})
	}
}

func (g *builder) encode(name, spec string, j []byte, unsorted bool, intent *Intent) {
	if g.o.Areas[LockfileEncode] {
		g.out = append(g.out, Case{Name: Slug(LockfileEncode) + "/" + name, Area: LockfileEncode, Spec: spec, Input: j, Unsorted: unsorted, Want: RefEncode(j), Intent: intent})
	}
}

func jsonOf(lf *lockfile.Lockfile) []byte {
	j, err := lf.JSON()
	if err != nil {
		panic(err)
	}
	return j
}

// Generate returns the cases for o, in a fixed order.
func Generate(o Options) ([]Case, error) {
	if o.Lookup == nil {
		o.Lookup = func(string) (string, bool) { return "", false }
	}
	g := &builder{o: o}
	r := rand.New(rand.NewPCG(o.Seed, 0x6275_6e31_3363))

	vecs, forms, err := Vectors()
	if err != nil {
		return nil, fmt.Errorf("reading the embedded fixtures: %w", err)
	}
	for _, v := range vecs {
		spec := specValid
		if v.Manifest != nil {
			spec = specHeader
			if v.Manifest.Code == "body-checksum" {
				spec = specLayout
			}
		}
		g.lockb(v.Name, spec, v.Data, v.Manifest)
		if j, ok := forms[v.Name]; ok {
			g.encode(v.Name, specValid, j, false, nil)
		}
	}

	for _, e := range edgeFiles(r) {
		b := MustEncode(e.lf)
		g.lockb("edge/"+e.name, specValid, b, &Intent{Offset: NoOffset})
		// The encoder gets the sorted packages (the decoded form), so
		// that dependency indices mean the same to every reading.
		sorted, err := lockfile.Decode(b)
		if err != nil {
			return nil, err
		}
		g.encode("edge/"+e.name, specValid, jsonOf(sorted), false, &Intent{Offset: NoOffset})
		if len(e.lf.Packages) < 2 || len(e.lf.Packages) > 10 {
			continue
		}
		// The same packages in reverse order, without dependencies (whose
		// meaning the SPEC leaves open for unsorted input).
		rev := &lockfile.Lockfile{Config: e.lf.Config}
		for k := len(e.lf.Packages) - 1; k >= 0; k-- {
			p := e.lf.Packages[k]
			p.Dependencies = nil
			rev.Packages = append(rev.Packages, p)
		}
		g.encode("unsorted/"+e.name+"-reversed", specValid+" (input in any order)", jsonOf(rev), true, &Intent{Offset: NoOffset})
	}
	g.encodeErrors()

	base := MustEncode(Base3())
	l := LayoutOf(base)
	muts := append(headerMutations(), bodyMutations(l, len(base))...)
	for _, m := range muts {
		g.lockb("mut/"+m.name, m.spec, m.f(append([]byte(nil), base...)), &Intent{Code: m.code, Offset: m.off})
	}
	// The first and the last record: offsets count from each record's
	// start, and the last one's dependencies end the table.
	for _, i := range []int{0, l.Count - 1} {
		for _, m := range recordMutations(i, l.Count) {
			g.lockb(fmt.Sprintf("mut/record%d/%s", i, m.name), m.spec, m.f(append([]byte(nil), base...)), &Intent{Code: m.code, Offset: m.off})
		}
	}
	// Records reordered on a base without dependencies, which would
	// otherwise point at the wrong records (and fail first).
	plain := Base3()
	for i := range plain.Packages {
		plain.Packages[i].Dependencies = nil
	}
	plainb := MustEncode(plain)
	for _, m := range orderMutations(l.Count) {
		g.lockb("mut/"+m.name, m.spec, m.f(append([]byte(nil), plainb...)), &Intent{Code: m.code, Offset: m.off})
	}

	if o.Areas[FrameDecode] {
		fv, err := FrameVectors()
		if err != nil {
			return nil, err
		}
		for _, name := range sortedKeys(fv) {
			b, err := hexBytes(fv[name])
			if err != nil {
				return nil, fmt.Errorf("frames.json %s: %w", name, err)
			}
			g.frame("vector/"+name, b, nil)
		}
		for _, f := range frameCases() {
			g.frame(f.name, f.b, &Intent{Code: f.code, Offset: NoOffset})
		}
	}
	if o.Areas[HeadersValidate] {
		hv, err := HeaderVectors()
		if err != nil {
			return nil, err
		}
		for _, name := range sortedKeys(hv) {
			var args []string
			for _, n := range headers.Names {
				args = append(args, n+": "+hv[name][n])
			}
			g.headers("vector/"+name, args, nil)
		}
		for _, h := range headerCases() {
			g.headers(h.name, h.args, &Intent{Code: h.code, Offset: NoOffset})
		}
	}
	g.random(r, base)
	return g.out, nil
}

func (g *builder) frame(name string, b []byte, intent *Intent) {
	g.out = append(g.out, Case{Name: Slug(FrameDecode) + "/" + name, Area: FrameDecode, Spec: specFrame, Input: b, Want: RefFrame(b), Intent: intent})
}

func (g *builder) headers(name string, args []string, intent *Intent) {
	g.out = append(g.out, Case{Name: Slug(HeadersValidate) + "/" + name, Area: HeadersValidate, Spec: specHeaders, Args: args, Want: RefHeaders(args), Intent: intent})
}

// encodeErrors are encoder inputs the reference refuses: exit 1 with a
// SPEC code.
func (g *builder) encodeErrors() {
	good := func() *lockfile.Lockfile {
		return &lockfile.Lockfile{Config: config.Default(), Packages: []lockfile.Package{pkg("a", "1.0.0"), pkg("b", "1.0.0")}}
	}
	bad := []struct {
		name, code string
		f          func(lf *lockfile.Lockfile)
	}{
		{"name-215-bytes", "package", func(lf *lockfile.Lockfile) { lf.Packages[1].Name = strings.Repeat("b", 215) }},
		{"version-not-semver", "package", func(lf *lockfile.Lockfile) { lf.Packages[0].Version = "1.0" }},
		{"resolved-space", "package", func(lf *lockfile.Lockfile) { lf.Packages[0].Resolved = "https://r/a b" }},
		{"integrity-non-canonical", "package", func(lf *lockfile.Lockfile) { lf.Packages[0].Integrity = nonCanonicalSHA1 }},
		{"duplicate-package", "package", func(lf *lockfile.Lockfile) { lf.Packages[1] = lf.Packages[0] }},
		{"dependency-on-itself", "package", func(lf *lockfile.Lockfile) { lf.Packages[0].Dependencies = []uint32{0} }},
		{"dependency-out-of-range", "package", func(lf *lockfile.Lockfile) { lf.Packages[0].Dependencies = []uint32{2} }},
		{"dependency-twice", "package", func(lf *lockfile.Lockfile) { lf.Packages[0].Dependencies = []uint32{1, 1} }},
		{"config-rows-zero", "terminal-size", func(lf *lockfile.Lockfile) { lf.Config.Rows = 0 }},
		{"config-version-3", "unsupported-version", func(lf *lockfile.Lockfile) { lf.Config.Version = 3 }},
		{"config-flags-undefined", "unknown-feature", func(lf *lockfile.Lockfile) { lf.Config.FeatureFlags = 0x100 }},
	}
	for _, b := range bad {
		lf := good()
		b.f(lf)
		j, err := json.Marshal(jsonLockfile(lf))
		if err != nil {
			panic(err)
		}
		g.encode("invalid/"+b.name, specValid, j, false, &Intent{Code: b.code, Offset: NoOffset})
	}
	// Unknown flag name.
	j := []byte(`{"config":{"version":1,"registryHash":"0x5e9b6bd5","featureFlags":"0x00000000","terminalMode":"cooked","rows":24,"cols":80},` +
		`"packages":[{"name":"a","version":"1.0.0","resolved":"https://r/a.tgz","integrity":"sha1-AAECAwQFBgcICQoLDA0ODxAREhM=","dependencies":[],"flags":["prod"]}]}`)
	g.encode("invalid/flag-unknown", specValid, j, false, &Intent{Code: "package", Offset: NoOffset})
}

// jsonLockfile writes lf's JSON form without validating it (the config's
// MarshalJSON does not validate; rows 0 stays 0).
func jsonLockfile(lf *lockfile.Lockfile) json.RawMessage {
	b, err := lf.MarshalJSON()
	if err != nil {
		panic(err)
	}
	return b
}

// random adds o.Count random cases to each area.
func (g *builder) random(r *rand.Rand, base []byte) {
	n := g.o.Count
	if g.o.Areas[LockfileDecode] || g.o.Areas[ConfigValidate] {
		for i := range n {
			if i%2 == 0 {
				lf := RandLockfile(r, randSize(r))
				g.lockb(fmt.Sprintf("random/valid-%04d", i), specValid, MustEncode(lf), nil)
				continue
			}
			src := base
			if r.IntN(2) == 0 {
				src = MustEncode(RandLockfile(r, 1+randSize(r)))
			}
			m := RandMutation(r)
			g.lockb(fmt.Sprintf("random/mutation-%04d", i), specRecord+"; "+m.String(), m.Apply(src), nil)
		}
	}
	if g.o.Areas[LockfileEncode] {
		for i := range n {
			lf := RandLockfile(r, randSize(r))
			if i%4 != 3 {
				g.encode(fmt.Sprintf("random/sorted-%04d", i), specValid, jsonOf(lf), false, nil)
				continue
			}
			// Unsorted input: no dependencies, whose meaning the SPEC
			// leaves open for unsorted input.
			for k := range lf.Packages {
				lf.Packages[k].Dependencies = nil
			}
			r.Shuffle(len(lf.Packages), func(a, b int) { lf.Packages[a], lf.Packages[b] = lf.Packages[b], lf.Packages[a] })
			g.encode(fmt.Sprintf("random/unsorted-%04d", i), specValid+" (input in any order)", jsonOf(lf), true, nil)
		}
	}
	if g.o.Areas[FrameDecode] {
		for i := range n {
			g.frame(fmt.Sprintf("random/%04d", i), RandFrame(r), nil)
		}
	}
	if g.o.Areas[HeadersValidate] {
		for i := range n {
			g.headers(fmt.Sprintf("random/%04d", i), RandHeaders(r), nil)
		}
	}
}

func randSize(r *rand.Rand) int {
	if r.IntN(10) == 0 {
		return 20 + r.IntN(60)
	}
	return r.IntN(8)
}

// RandHeaders is a header set of a random valid config with 0 to 2
// faults: a header dropped, a name's case changed, a value padded, a hex
// digit upper-cased, a digit changed, or one header alone.
func RandHeaders(r *rand.Rand) []string {
	vals := HeaderValues(RandConfig(r))
	names := headers.Names
	keep := []bool{true, true, true, true, true}
	pads := [5][2]string{}
	for range r.IntN(4) {
		i := r.IntN(5)
		switch r.IntN(7) {
		case 0:
			for range 1 + r.IntN(3) {
				keep[r.IntN(5)] = false
			}
		case 1:
			names[i] = randCase(r, names[i])
		case 2:
			p := []string{" ", "\t", "  \t", "\t "}
			pads[i] = [2]string{p[r.IntN(len(p))], p[r.IntN(len(p))]}
		case 3:
			if i == 0 || i == 3 {
				i = 1 + 3*r.IntN(2)
			}
			vals[i] = strings.ToUpper(vals[i][:2]) + strings.ToUpper(vals[i][2:])
			if r.IntN(2) == 0 {
				vals[i] = vals[i][:2] + strings.ToUpper(vals[i][2:])
			}
		case 4:
			b := []byte(vals[i])
			b[r.IntN(len(b))] = "0123456789abcdefx;AF "[r.IntN(21)]
			vals[i] = string(b)
		case 5:
			return []string{names[i] + ":" + pads[i][0] + vals[i] + pads[i][1]}
		case 6:
			vals[i] = vals[i] + string("0a;x "[r.IntN(5)])
		}
	}
	var out []string
	for i := range 5 {
		if keep[i] {
			out = append(out, names[i]+":"+pads[i][0]+vals[i]+pads[i][1])
		}
	}
	if len(out) == 0 {
		out = append(out, names[0]+": "+vals[0])
	}
	return out
}

func randCase(r *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if r.IntN(2) == 0 {
			if 'a' <= c && c <= 'z' {
				b[i] = c - 32
			} else if 'A' <= c && c <= 'Z' {
				b[i] = c + 32
			}
		}
	}
	return string(b)
}
