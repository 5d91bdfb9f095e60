package lockfile

// Tests written against the mutants gremlins left alive (fuzz/README.md,
// "Mutation score"): each pins an exact boundary or a branch the other
// tests of the package reach only from one side. Helpers carry an mt
// prefix so they cannot collide with the package's other test files.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
)

func mtValidConfig() config.Config {
	return config.Config{Version: 2, RegistryHash: 0x5e9b6bd5, FeatureFlags: 0x108, TerminalMode: config.Raw, Rows: 40, Cols: 120}
}

func mtIntegrity(alg string, size int, seed string) string {
	sum := sha256.Sum256([]byte(seed))
	raw := bytes.Repeat(sum[:], 3)[:size]
	return alg + "-" + base64.StdEncoding.EncodeToString(raw)
}

func mtPkg(name, version string) Package {
	return Package{
		Name:      name,
		Version:   version,
		Resolved:  "https://registry.example/" + name + "/-/" + version + ".tgz",
		Integrity: mtIntegrity("sha512", 64, name+"@"+version),
	}
}

func mtEncode(t *testing.T, pkgs ...Package) []byte {
	t.Helper()
	b, err := Encode(&Lockfile{Config: mtValidConfig(), Packages: pkgs})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b
}

func mtReseal(b []byte) []byte {
	binary.BigEndian.PutUint64(b[offHeaderCRC:], headerCRC(b))
	binary.BigEndian.PutUint64(b[offBodyCRC:], bodyCRC(b))
	return b
}

func mtWantErr(t *testing.T, err error, code codes.Code, off int) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if codes.Of(err) != code || codes.OffsetOf(err) != off {
		t.Fatalf("error %v, want %s at %d", err, code, off)
	}
}

// TestFieldLimitsExact: every field limit of SPEC section 3 accepted at
// the limit and rejected one past it, through Decode and Encode.
func TestFieldLimitsExact(t *testing.T) {
	ver256 := "1.0.0-" + strings.Repeat("a", MaxVersionLen-6)
	url2048 := "https://r.example/" + strings.Repeat("x", MaxResolvedLen-len("https://r.example/"))
	name214 := strings.Repeat("n", MaxNameLen)
	cases := []struct {
		name string
		p    Package
		ok   bool
	}{
		{"version 256 bytes", func() Package { p := mtPkg("a", "1.0.0"); p.Version = ver256; return p }(), true},
		{"version 257 bytes", func() Package { p := mtPkg("a", "1.0.0"); p.Version = ver256 + "a"; return p }(), false},
		{"resolved 2048 bytes", func() Package { p := mtPkg("a", "1.0.0"); p.Resolved = url2048; return p }(), true},
		{"resolved 2049 bytes", func() Package { p := mtPkg("a", "1.0.0"); p.Resolved = url2048 + "x"; return p }(), false},
		{"name 214 bytes", mtPkg(name214, "1.0.0"), true},
		{"name 215 bytes", mtPkg(name214+"n", "1.0.0"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Encode(&Lockfile{Config: mtValidConfig(), Packages: []Package{c.p}})
			if (err == nil) != c.ok {
				t.Fatalf("Encode error %v, want ok=%v", err, c.ok)
			}
			if c.ok {
				b := mtEncode(t, c.p)
				lf, err := Decode(b)
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if !Equal(lf, &Lockfile{Config: mtValidConfig(), Packages: []Package{c.p}}) {
					t.Fatalf("Decode gave %+v, want %+v", lf.Packages[0], c.p)
				}
			}
		})
	}
}

// TestResolvedByteRange: resolved holds bytes 0x21..0x7E only; the bytes
// on both sides of each end decide.
func TestResolvedByteRange(t *testing.T) {
	for c := 0; c < 256; c++ {
		s := []byte("https://r.example/a" + string(rune('a')) + "b")
		s[len(s)-2] = byte(c)
		err := checkResolved(s)
		want := c >= 0x21 && c <= 0x7e
		if (err == nil) != want {
			t.Errorf("byte 0x%02x: error %v, want accepted=%v", c, err, want)
		}
	}
	for _, s := range []string{"http://", "https://", "http://x", "https://x"} {
		if err := checkResolved([]byte(s)); err != nil {
			t.Errorf("%q rejected: %v", s, err)
		}
	}
	for _, s := range []string{"", "http:/", "https:/", "https:", "ftp://x", "HTTP://x", "http//x"} {
		if checkResolved([]byte(s)) == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// TestNameExactErrors pins which rule rejects a name, and every byte.
func TestNameExactErrors(t *testing.T) {
	cases := []struct {
		name string
		want error
	}{
		{"", errNameLen},
		{strings.Repeat("a", 215), errNameLen},
		{"@scope", errNameShape},
		{"@", errNameShape},
		{"@scope/", errNameSegment},
		{"@/pkg", errNameSegment},
		{"@a/b", nil},
		{"@a/b/c", errNameSegment},
		{"a", nil},
	}
	for _, c := range cases {
		if err := checkName([]byte(c.name)); !errors.Is(err, c.want) && err != c.want {
			t.Errorf("checkName(%q) = %v, want %v", c.name, err, c.want)
		}
	}
	allowed := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!*'()"
	for c := 0; c < 256; c++ {
		want := strings.IndexByte(allowed, byte(c)) >= 0
		if got := nameByte[c]; got != want {
			t.Errorf("nameByte[0x%02x %q] = %v, want %v", c, rune(c), got, want)
		}
		if c == '.' || c == '_' || c == '/' || c == '@' {
			continue
		}
		err := checkName([]byte{'x', byte(c)})
		if (err == nil) != want {
			t.Errorf("name \"x\\x%02x\": %v", c, err)
		}
	}
}

// TestVersionPrereleaseZero: a numeric pre-release identifier of one "0"
// is valid, "00" is not; the same after a dot.
func TestVersionPrereleaseZero(t *testing.T) {
	for v, ok := range map[string]bool{
		"1.0.0-0": true, "1.0.0-00": false, "1.0.0-1.0": true, "1.0.0-1.00": false, "1.0.0-0a": true,
		"1.0.0-a.0": true, "1.0.0-a.01": false, "0.0.0": true, "0.0.00": false, "1.0.0+0": true, "1.0.0+00": true,
		"1.0.0-0.0.0": true, "9.9.9-9": true, "1.0.0-a.": false, "1.0.0+a.": false, "1.0.0+": false,
	} {
		if err := checkVersion([]byte(v)); (err == nil) != ok {
			t.Errorf("checkVersion(%q) = %v, want ok=%v", v, err, ok)
		}
	}
}

func mtDump(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Dump(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// mtDumpLine returns the dump line of the header field at off.
func mtDumpLine(t *testing.T, dump string, off int, field string) string {
	t.Helper()
	prefix := fmt.Sprintf("0x%02X ", off)
	for _, l := range strings.Split(dump, "\n") {
		parts := strings.Split(l, "|")
		if strings.HasPrefix(l, prefix) && len(parts) >= 5 && strings.TrimSpace(parts[2]) == field {
			return l
		}
	}
	t.Fatalf("no %s line at 0x%02X in\n%s", field, off, dump)
	return ""
}

// TestDumpShortFiles: a file that ends at or inside a header field shows
// that field missing or truncated, and the config is read only when all
// 13 bytes are there.
func TestDumpShortFiles(t *testing.T) {
	full := mtEncode(t, mtPkg("a", "1.0.0"))
	// 2 bytes: no config at all (and no panic reading it).
	d := mtDump(t, full[:2])
	if !strings.Contains(mtDumpLine(t, d, 0, "magic"), "BAD (truncated)") {
		t.Errorf("2-byte magic line:\n%s", d)
	}
	// Exactly 4 bytes: the magic is whole, the version is missing.
	d = mtDump(t, full[:4])
	if l := mtDumpLine(t, d, 4, "version"); !strings.Contains(l, "(missing)") {
		t.Errorf("version line of a 4-byte file: %q", l)
	}
	if l := mtDumpLine(t, d, 0, "magic"); !strings.HasSuffix(l, "| OK") {
		t.Errorf("magic line of a 4-byte file: %q", l)
	}
	// Exactly 17 bytes (magic and config): the config's verdicts come from
	// the bytes; 16 bytes: the config is not read, the reserved byte missing.
	d = mtDump(t, full[:17])
	for _, f := range []struct {
		off  int
		name string
	}{{4, "version"}, {5, "registryHash"}, {9, "featureFlags"}, {0x0D, "terminalMode"}, {0x0E, "rows"}, {0x0F, "cols"}} {
		if l := mtDumpLine(t, d, f.off, f.name); !strings.HasSuffix(l, "| OK") {
			t.Errorf("17-byte file, %s: %q", f.name, l)
		}
	}
	d = mtDump(t, full[:16])
	if l := mtDumpLine(t, d, 5, "registryHash"); !strings.HasSuffix(l, "| BAD") {
		t.Errorf("16-byte file: config read anyway: %q", l)
	}
	if l := mtDumpLine(t, d, 0x10, "reserved"); !strings.Contains(l, "(missing)") {
		t.Errorf("16-byte file, reserved: %q", l)
	}
	// Exactly 64 bytes: the body checksum is recomputed (over no body) and
	// the body's layout error is shown.
	d = mtDump(t, full[:64])
	if l := mtDumpLine(t, d, 0x38, "bodyCRC64"); !strings.Contains(l, "(computed 0x") {
		t.Errorf("64-byte file, bodyCRC64: %q", l)
	}
	if !strings.Contains(d, "0x40   | body: package at offset 64") {
		t.Errorf("64-byte file: no body line:\n%s", d)
	}
	if !strings.HasSuffix(d, "total 64 bytes\n") {
		t.Errorf("64-byte file: %q", d)
	}
}

// TestDumpFlagsVerdict: feature flags are judged by the file's version,
// including the newest one, and not at all for an unknown version.
func TestDumpFlagsVerdict(t *testing.T) {
	for _, c := range []struct {
		version byte
		flags   uint32
		want    string
	}{
		{2, 0x3ff, "| OK"}, {2, 0x400, "| BAD"}, {1, 0xff, "| OK"}, {1, 0x100, "| BAD"}, {0, 0, "| OK"}, {0, 1, "| BAD"}, {3, 0xffffffff, "| OK"},
	} {
		b := mtEncode(t)
		b[config.OffsetVersion] = c.version
		binary.BigEndian.PutUint32(b[config.OffsetFeatureFlags:], c.flags)
		l := mtDumpLine(t, mtDump(t, mtReseal(b)), 9, "featureFlags")
		if !strings.HasSuffix(l, c.want) {
			t.Errorf("version %d flags 0x%x: %q, want %q", c.version, c.flags, l, c.want)
		}
	}
}

// TestDumpLastString: a record whose string is the last one of the table
// (shared resolved and integrity make the second name the last string
// written) is shown, not "(bad ref)"; a ref one byte past the table is.
func TestDumpLastString(t *testing.T) {
	a, b := mtPkg("a", "1.0.0"), mtPkg("b", "1.0.0")
	b.Resolved, b.Integrity = a.Resolved, a.Integrity
	file := mtEncode(t, a, b)
	if !bytes.HasSuffix(file, []byte(".tgz"+a.Integrity+"b")) {
		t.Fatalf("the string table does not end in the name b: %q", file[len(file)-20:])
	}
	d := mtDump(t, file)
	if !strings.Contains(d, `record 1     "b"@"1.0.0"`) {
		t.Errorf("dump of the last string:\n%s", d)
	}
	strtab := file[len(file)-1-len(a.Integrity)-len(a.Resolved)-len("1.0.0")-len("a"):]
	at := HeaderSize + RecordSize + recName
	if got := refString(file, strtab[:len(strtab)-1], at); got != "(bad ref)" {
		t.Errorf("ref one past the table: %q", got)
	}
	if got := refString(file, strtab, at); got != `"b"` {
		t.Errorf("ref at the end of the table: %q", got)
	}
}

// TestVersionIdentifierBytes: pre-release and build identifiers hold
// exactly 0-9 A-Z a-z and '-': every byte, the letters at both ends
// included.
func TestVersionIdentifierBytes(t *testing.T) {
	for c := 0; c < 256; c++ {
		ident := (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'
		if isIdent(byte(c)) != ident {
			t.Errorf("isIdent(%q) = %v", rune(c), !ident)
		}
		for _, v := range []string{"1.0.0-a" + string(rune(c)), "1.0.0+" + string(rune(c))} {
			if c >= 0x80 {
				v = v[:len(v)-len(string(rune(c)))] + string([]byte{byte(c)})
			}
			if err := checkVersion([]byte(v)); (err == nil) != ident {
				t.Errorf("checkVersion(%q) = %v, want ok=%v", v, err, ident)
			}
		}
	}
}

// TestWriteFileErrors: WriteFile refuses an invalid lockfile before it
// touches the disk, and reports a lock it cannot take.
func TestWriteFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/bun.lockb"
	bad := &Lockfile{Config: mtValidConfig()}
	bad.Config.Rows = 0
	if err := WriteFile(path, bad); codes.Of(err) != codes.TerminalSize {
		t.Fatalf("WriteFile of an invalid config: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("an invalid lockfile left a file: %v", err)
	}
	if err := WriteFile(dir+"/no/such/dir/bun.lockb", &Lockfile{Config: mtValidConfig()}); err == nil {
		t.Fatal("WriteFile into a missing directory succeeded")
	}
	good := &Lockfile{Config: mtValidConfig(), Packages: []Package{mtPkg("a", "1.0.0")}}
	if err := WriteFile(path, good); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(path)
	if err != nil || !Equal(back, good) {
		t.Fatalf("ReadFile after WriteFile: %v", err)
	}
}

// TestImportNPMRules drives every branch of ImportNPM with one
// package-lock.json: flags, copies of one release, Node's resolution from
// nested and scoped paths, every reason to skip, and the choice of SRI.
func TestImportNPMRules(t *testing.T) {
	sri := func(seed string) string { return mtIntegrity("sha512", 64, seed) }
	s256 := mtIntegrity("sha256", 32, "p")
	tgz := func(n string) string { return "https://r.example/" + n + ".tgz" }
	entry := func(version, seed string, extra map[string]any) map[string]any {
		m := map[string]any{"version": version, "resolved": tgz(seed), "integrity": sri(seed)}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	pkgs := map[string]any{
		"":                                 map[string]any{"name": "root", "dependencies": map[string]string{"a": "1"}},
		"node_modules/a":                   entry("1.0.0", "a", map[string]any{"dependencies": map[string]string{"b": "1", "n": "1"}, "optionalDependencies": map[string]string{"gone-opt": "1"}, "peerDependencies": map[string]string{"gone-peer": "1"}}),
		"node_modules/a/node_modules/b":    entry("2.0.0", "b2", nil),
		"node_modules/a/node_modules/m":    entry("1.0.0", "m", map[string]any{"dependencies": map[string]string{"n": "2"}}),
		"node_modules/a/node_modules/n":    entry("2.0.0", "n2", nil),
		"node_modules/n":                   entry("1.0.0", "n1", nil),
		"node_modules/b":                   entry("1.0.0", "b1", map[string]any{"dev": true}),
		"node_modules/c":                   entry("1.0.0", "c", map[string]any{"dependencies": map[string]string{"b": "1", "missing": "1"}}),
		"node_modules/d":                   entry("1.0.0", "d", map[string]any{"devOptional": true}),
		"node_modules/e":                   entry("1.0.0", "e", map[string]any{"peer": true, "optional": true, "dependencies": map[string]string{"lnk": "1", "git": "1"}}),
		"node_modules/@s/p":                map[string]any{"version": "1.0.0", "resolved": tgz("sp"), "integrity": "sha1-AAECAwQFBgcICQoLDA0ODxAREhM= sha512-bad " + s256},
		"node_modules/@s/p/node_modules/q": entry("1.0.0", "q", map[string]any{"dependencies": map[string]string{"r": "1"}}),
		"node_modules/@s/p/node_modules/r": entry("1.0.0", "r", nil),
		"node_modules/alias":               entry("3.0.0", "al", map[string]any{"name": "real-name"}),
		"node_modules/dupe":                entry("1.0.0", "dupe", map[string]any{"dev": true, "dependencies": map[string]string{"dupe": "1"}}),
		"node_modules/c/node_modules/dupe": entry("1.0.0", "dupe", map[string]any{"optional": true}),
		"node_modules/d/node_modules/dupe": entry("1.0.0", "other-bytes", nil),
		"node_modules/two-sri":             map[string]any{"version": "1.0.0", "resolved": tgz("two"), "integrity": sri("first") + " " + sri("second")},
		"node_modules/lnk":                 map[string]any{"link": true, "resolved": "packages/lnk"},
		"packages/ws":                      map[string]any{"version": "1.0.0", "resolved": tgz("ws"), "integrity": sri("ws")},
		"node_modules/nores":               map[string]any{"version": "1.0.0", "integrity": sri("nores")},
		"node_modules/git":                 map[string]any{"version": "1.0.0", "resolved": "git+https://x/y.git", "integrity": sri("git")},
		"node_modules/noint":               map[string]any{"version": "1.0.0", "resolved": tgz("noint"), "integrity": "md5-abc"},
		"node_modules/badver":              entry("1.0", "badver", nil),
		"node_modules/http":                map[string]any{"version": "1.0.0", "resolved": "http://r.example/h.tgz", "integrity": sri("h")},
	}
	doc, err := json.Marshal(map[string]any{"lockfileVersion": 3, "packages": pkgs})
	if err != nil {
		t.Fatal(err)
	}
	got, rep, err := ImportNPM(doc)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		flags PkgFlags
		deps  []string
		sri   string
	}
	id := func(p Package) string { return p.Name + "@" + p.Version }
	byID := map[string]rec{}
	for _, p := range got {
		var deps []string
		for _, d := range p.Dependencies {
			deps = append(deps, id(got[d]))
		}
		byID[id(p)] = rec{p.Flags, deps, p.Integrity}
	}
	want := map[string]rec{
		"a@1.0.0":         {0, []string{"b@2.0.0", "n@2.0.0"}, sri("a")},
		"b@2.0.0":         {0, nil, sri("b2")},
		"m@1.0.0":         {0, []string{"n@2.0.0"}, sri("m")},
		"n@2.0.0":         {0, nil, sri("n2")},
		"n@1.0.0":         {0, nil, sri("n1")},
		"b@1.0.0":         {Dev, nil, sri("b1")},
		"c@1.0.0":         {0, []string{"b@1.0.0"}, sri("c")},
		"d@1.0.0":         {Dev | Optional, nil, sri("d")},
		"e@1.0.0":         {Optional | Peer, nil, sri("e")},
		"@s/p@1.0.0":      {0, nil, s256},
		"q@1.0.0":         {0, []string{"r@1.0.0"}, sri("q")},
		"r@1.0.0":         {0, nil, sri("r")},
		"real-name@3.0.0": {0, nil, sri("al")},
		"dupe@1.0.0":      {0, nil, sri("dupe")},
		"two-sri@1.0.0":   {0, nil, sri("first")},
		"http@1.0.0":      {0, nil, sri("h")},
	}
	for k, w := range want {
		g, ok := byID[k]
		if !ok {
			t.Errorf("%s not imported", k)
			continue
		}
		if g.flags != w.flags || strings.Join(g.deps, ",") != strings.Join(w.deps, ",") || g.sri != w.sri {
			t.Errorf("%s = %+v, want %+v", k, g, w)
		}
	}
	if len(byID) != len(want) || rep.Packages != len(want) || len(got) != len(want) {
		t.Errorf("imported %d (report %d), want %d: %v", len(got), rep.Packages, len(want), byID)
	}
	wantSkip := map[string][]string{
		"node_modules/lnk":                 {"link"},
		"packages/ws":                      {"not under node_modules"},
		"node_modules/nores":               {"no resolved URL"},
		"node_modules/git":                 {"not an http(s) tarball"},
		"node_modules/noint":               {"no usable integrity"},
		"node_modules/badver":              {"version"},
		"node_modules/d/node_modules/dupe": {"also installed from"},
		"node_modules/c":                   {`dependency "missing" is not installed`},
		"node_modules/e":                   {`dependency "git" resolves to node_modules/git`, `dependency "lnk" resolves to node_modules/lnk`},
	}
	gotSkip := map[string][]string{}
	for _, s := range rep.Skipped {
		gotSkip[s.Path] = append(gotSkip[s.Path], s.Reason)
	}
	for path, reasons := range wantSkip {
		g := gotSkip[path]
		if len(g) != len(reasons) {
			t.Errorf("skipped %s: %q, want %d reasons like %q", path, g, len(reasons), reasons)
			continue
		}
		for _, r := range reasons {
			found := false
			for _, x := range g {
				found = found || strings.Contains(x, r)
			}
			if !found {
				t.Errorf("skipped %s: %q, want one containing %q", path, g, r)
			}
		}
	}
	if len(gotSkip) != len(wantSkip) {
		t.Errorf("skipped %v, want the paths of %v", gotSkip, wantSkip)
	}
	// What was imported encodes.
	if _, err := Encode(&Lockfile{Config: mtValidConfig(), Packages: got}); err != nil {
		t.Errorf("imported packages do not encode: %v", err)
	}
	for _, bad := range []string{`{`, `{"lockfileVersion": 1, "packages": {}}`, `{"lockfileVersion": 4, "packages": {}}`, `{"lockfileVersion": 2}`} {
		if _, _, err := ImportNPM([]byte(bad)); err == nil {
			t.Errorf("ImportNPM(%s) accepted", bad)
		}
	}
	if p, _, err := ImportNPM([]byte(`{"lockfileVersion": 2, "packages": {}}`)); err != nil || len(p) != 0 {
		t.Errorf("empty v2 lock: %v, %v", p, err)
	}
}

// TestLayoutEdges: a file cut exactly at each section boundary of the body
// fails at that section's field, with the sizes named, and never panics.
func TestLayoutEdges(t *testing.T) {
	full := mtEncode(t, mtPkg("a", "1.0.0"), func() Package { p := mtPkg("b", "1.0.0"); p.Dependencies = []uint32{0}; return p }())
	recEnd := HeaderSize + 2*RecordSize // the depCount field
	depEnd := recEnd + 4 + 4            // the strBytes field (one dependency)
	cases := []struct {
		n      int
		off    int
		code   codes.Code
		detail string
	}{
		{recEnd - 1, HeaderSize, codes.Package, "2 records and the depCount field need 196 bytes, the file has 191"},
		{recEnd, HeaderSize, codes.Package, "2 records and the depCount field need 196 bytes, the file has 192"},
		{recEnd + 3, HeaderSize, codes.Package, "the file has 195"},
		{recEnd + 4, recEnd, codes.Package, "1 dependency indices and the strBytes field run past the end of file"},
		{depEnd, recEnd, codes.Package, "1 dependency indices"},
		{depEnd + 3, recEnd, codes.Package, "1 dependency indices"},
		{depEnd + 4, depEnd, codes.Package, fmt.Sprintf("string table of %d bytes runs past the end of file", len(full)-depEnd-4)},
		{len(full) - 1, depEnd, codes.Package, fmt.Sprintf("string table of %d bytes", len(full)-depEnd-4)},
	}
	for _, c := range cases {
		b := mtReseal(append([]byte(nil), full[:c.n]...))
		_, err := Decode(b)
		mtWantErr(t, err, c.code, c.off)
		var ce *codes.Error
		if !errors.As(err, &ce) || !strings.Contains(ce.Detail, c.detail) {
			t.Errorf("%d bytes: detail %q, want %q", c.n, err, c.detail)
		}
	}
	// One and three trailing bytes: the count is in the detail.
	for _, extra := range []int{1, 3} {
		b := mtReseal(append(append([]byte(nil), full...), make([]byte, extra)...))
		_, err := Decode(b)
		mtWantErr(t, err, codes.TrailingData, len(full))
		if want := fmt.Sprintf("%d bytes after the string table", extra); !strings.Contains(err.Error(), want) {
			t.Errorf("trailing %d: %v", extra, err)
		}
	}
	if _, err := Decode(full); err != nil {
		t.Fatal(err)
	}
}

// TestUpdateReturnsWritten: Update returns the lockfile it wrote.
func TestUpdateReturnsWritten(t *testing.T) {
	path := t.TempDir() + "/bun.lockb"
	if err := WriteFile(path, &Lockfile{Config: mtValidConfig()}); err != nil {
		t.Fatal(err)
	}
	got, err := Update(path, func(lf *Lockfile) error {
		lf.Packages = append(lf.Packages, mtPkg("a", "1.0.0"))
		return nil
	})
	if err != nil || got == nil || len(got.Packages) != 1 || got.Packages[0].Name != "a" {
		t.Fatalf("Update = %+v, %v", got, err)
	}
	onDisk, err := ReadFile(path)
	if err != nil || !Equal(onDisk, got) {
		t.Fatalf("file after Update: %v", err)
	}
}

// TestDependencyChecks: each rule of a record's dependency slice, with
// the last valid index, duplicates and descending pairs, at the record's
// depsFirst offset.
func TestDependencyChecks(t *testing.T) {
	pkgs := []Package{mtPkg("a", "1.0.0"), mtPkg("b", "1.0.0"), mtPkg("c", "1.0.0")}
	pkgs[0].Dependencies = []uint32{1, 2}
	base := mtEncode(t, pkgs...)
	table := HeaderSize + 3*RecordSize + 4 // the first dependency index
	at := HeaderSize + recDepsFirst        // record 0's depsFirst
	for _, c := range []struct {
		deps [2]uint32
		ok   bool
	}{
		{[2]uint32{1, 2}, true},
		{[2]uint32{1, 1}, false}, // duplicate
		{[2]uint32{2, 1}, false}, // descending
		{[2]uint32{2, 2}, false},
		{[2]uint32{1, 3}, false}, // index == packageCount
		{[2]uint32{0, 1}, false}, // itself
		{[2]uint32{1, 0}, false}, // itself, after a valid one
	} {
		b := append([]byte(nil), base...)
		binary.BigEndian.PutUint32(b[table:], c.deps[0])
		binary.BigEndian.PutUint32(b[table+4:], c.deps[1])
		_, err := Decode(mtReseal(b))
		if c.ok {
			mtWantErr(t, err, "", 0)
			continue
		}
		if codes.Of(err) != codes.Package || codes.OffsetOf(err) != at {
			t.Errorf("deps %v: %v, want package at %d", c.deps, err, at)
		}
	}
}

// TestEncodeEdges: a dependency index equal to the package count is
// rejected (not a panic); the output is allocated once at its exact size;
// the order error names both records.
func TestEncodeEdges(t *testing.T) {
	a, b := mtPkg("a", "1.0.0"), mtPkg("b", "1.0.0")
	a.Dependencies = []uint32{2}
	if _, err := Encode(&Lockfile{Config: mtValidConfig(), Packages: []Package{a, b}}); codes.Of(err) != codes.Package {
		t.Fatalf("dependency index == packageCount: %v", err)
	}
	a.Dependencies = []uint32{1}
	shared := mtPkg("c", "1.0.0")
	shared.Resolved, shared.Integrity = a.Resolved, a.Integrity
	for _, pkgs := range [][]Package{nil, {a, b}, {a, b, shared}, Synthetic(40).Packages} {
		out, err := Encode(&Lockfile{Config: mtValidConfig(), Packages: pkgs})
		if err != nil {
			t.Fatal(err)
		}
		if cap(out) != len(out) {
			t.Errorf("%d packages: output has cap %d for %d bytes: not sized exactly", len(pkgs), cap(out), len(out))
		}
	}
	file := mtEncode(t, mtPkg("a", "1.0.0"), mtPkg("b", "1.0.0"), mtPkg("c", "1.0.0"))
	r1, r2 := HeaderSize+RecordSize, HeaderSize+2*RecordSize
	swapped := append([]byte(nil), file...)
	copy(swapped[r1:r2], file[r2:r2+RecordSize])
	copy(swapped[r2:r2+RecordSize], file[r1:r2])
	_, err := Decode(mtReseal(swapped))
	mtWantErr(t, err, codes.Package, r2)
	if want := `record 2 (b@1.0.0) is not after record 1 (c@1.0.0)`; !strings.Contains(err.Error(), want) {
		t.Errorf("order error %q, want %q", err, want)
	}
}

// TestSyntheticShape pins the generator the benchmarks use, so that
// figures stay comparable from one commit to the next: every third name is
// scoped, versions and flags cycle, and each record depends on up to three
// records 17 apart.
func TestSyntheticShape(t *testing.T) {
	lf := Synthetic(60)
	scoped := 0
	for i, p := range lf.Packages {
		wantName := fmt.Sprintf("pkg-%06d", i)
		if i%3 == 0 {
			wantName = fmt.Sprintf("@scope%d/pkg-%06d", i%7, i)
			scoped++
		}
		if p.Name != wantName {
			t.Fatalf("record %d name %q, want %q", i, p.Name, wantName)
		}
		if want := fmt.Sprintf("%d.%d.%d", i%5, i%11, i%13); p.Version != want {
			t.Fatalf("record %d version %q, want %q", i, p.Version, want)
		}
		if p.Flags != PkgFlags(i%8) {
			t.Fatalf("record %d flags %d", i, p.Flags)
		}
		var want []uint32
		for d := 1; d <= 3 && i+d*17 < 60; d++ {
			want = append(want, uint32(i+d*17))
		}
		if fmt.Sprint(p.Dependencies) != fmt.Sprint(want) {
			t.Fatalf("record %d deps %v, want %v", i, p.Dependencies, want)
		}
	}
	if scoped != 20 {
		t.Errorf("%d scoped names, want 20", scoped)
	}
	// Spot checks written out, independent of the loop above.
	for i, want := range map[int]string{0: "@scope0/pkg-000000@0.0.0", 7: "pkg-000007@2.7.7", 9: "@scope2/pkg-000009@4.9.9", 13: "pkg-000013@3.2.0", 21: "@scope0/pkg-000021@1.10.8"} {
		if got := lf.Packages[i].Name + "@" + lf.Packages[i].Version; got != want {
			t.Errorf("record %d = %s, want %s", i, got, want)
		}
	}
	if got := fmt.Sprint(lf.Packages[0].Dependencies, lf.Packages[9].Dependencies, lf.Packages[26].Dependencies, lf.Packages[43].Dependencies); got != "[17 34 51] [26 43] [43] []" {
		t.Errorf("deps %s", got)
	}
}
