package lockfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
)

var update = flag.Bool("update", false, "rewrite golden files and generated fixtures")

const vectors = "../../fixtures/vectors"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectors, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reseal recomputes both checksums so a mutation reaches the checks after them.
func reseal(b []byte) []byte {
	if len(b) >= HeaderSize {
		binary.BigEndian.PutUint64(b[offHeaderCRC:], headerCRC(b))
		binary.BigEndian.PutUint64(b[offBodyCRC:], bodyCRC(b))
	}
	return b
}

// messWith returns a mutated copy of b, as archive/zip's tests do.
func messWith(b []byte, f func([]byte) []byte) []byte {
	return f(append([]byte(nil), b...))
}

func checkErr(t *testing.T, err error, code codes.Code, off int) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	var ce *codes.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *codes.Error, want %s at %d", err, code, off)
	}
	if !errors.Is(err, code) || ce.Offset != off {
		t.Fatalf("got %s at %d (%v), want %s at %d", ce.Code, ce.Offset, err, code, off)
	}
}

func TestVectors(t *testing.T) {
	for _, name := range []string{"seed-empty", "two-packages", "forty-packages"} {
		t.Run(name, func(t *testing.T) {
			b := readFixture(t, name+".lockb")
			lf, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Encode(lf)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, b) {
				t.Errorf("encode(decode(b)) != b")
			}
			j, err := lf.JSON()
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(readFixture(t, name+".json")), string(j)); d != "" {
				t.Errorf("JSON mismatch (-want +got):\n%s", d)
			}
			var back Lockfile
			if err := json.Unmarshal(j, &back); err != nil {
				t.Fatal(err)
			}
			if !Equal(lf, &back) {
				t.Errorf("JSON round trip changed the lockfile")
			}
		})
	}
}

func TestCorruptVectors(t *testing.T) {
	var manifest map[string]struct {
		Error  codes.Code `json:"error"`
		Offset int        `json:"offset"`
	}
	if err := json.Unmarshal(readFixture(t, "corrupt-manifest.json"), &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) < 10 {
		t.Fatalf("manifest lists %d files", len(manifest))
	}
	for name, want := range manifest {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(readFixture(t, name))
			checkErr(t, err, want.Error, want.Offset)
		})
	}
}

// TestFixturesMatchShared keeps fixtures/vectors a faithful copy of the
// shared vectors when they sit beside the repository.
func TestFixturesMatchShared(t *testing.T) {
	shared := "../../../shared/vectors"
	files, _ := filepath.Glob(filepath.Join(shared, "*"))
	if len(files) == 0 {
		t.Skip("no ../shared/vectors beside the repository")
	}
	for _, f := range files {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join(vectors, filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("fixtures/vectors/%s differs from the shared vector (copy it again)", filepath.Base(f))
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	two := readFixture(t, "two-packages.lockb")
	empty := readFixture(t, "seed-empty.lockb")
	rec0 := HeaderSize
	rec1 := HeaderSize + RecordSize
	setU32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); return reseal(b) }
	}
	tests := []struct {
		name     string
		base     []byte
		mutate   func([]byte) []byte
		wantCode codes.Code
		wantOff  int
	}{
		{"valid", two, func(b []byte) []byte { return b }, "", 0},
		{"empty file", two, func(b []byte) []byte { return b[:0] }, codes.Truncated, 0},
		{"63 bytes", two, func(b []byte) []byte { return b[:63] }, codes.Truncated, 63},
		{"bad magic", two, func(b []byte) []byte { b[3] = '2'; return b }, codes.BadMagic, 0},
		{"bad magic beats truncation of body", two, func(b []byte) []byte { b[0] = 0; return b[:64] }, codes.BadMagic, 0},
		{"header bit flip", two, func(b []byte) []byte { b[0x0E] ^= 1; return b }, codes.HeaderChecksum, 0x11},
		{"header crc flip", two, func(b []byte) []byte { b[0x18] ^= 0x80; return b }, codes.HeaderChecksum, 0x11},
		{"version 3", two, func(b []byte) []byte { b[0x04] = 3; return reseal(b) }, codes.UnsupportedVersion, 0x04},
		{"version before hash", two, func(b []byte) []byte { b[0x04] = 9; clear(b[5:9]); return reseal(b) }, codes.UnsupportedVersion, 0x04},
		{"zero hash", two, func(b []byte) []byte { clear(b[5:9]); return reseal(b) }, codes.RegistryHash, 0x05},
		{"flag bit 10", two, func(b []byte) []byte { b[0x0B] |= 4; return reseal(b) }, codes.UnknownFeature, 0x09},
		{"v2 flag in v1", two, func(b []byte) []byte { b[0x04] = 1; return reseal(b) }, codes.UnknownFeature, 0x09},
		{"v0 with flags", empty, func(b []byte) []byte { b[0x04] = 0; return reseal(b) }, codes.UnknownFeature, 0x09},
		{"mode 3", two, func(b []byte) []byte { b[0x0D] = 3; return reseal(b) }, codes.TerminalMode, 0x0D},
		{"rows 0", two, func(b []byte) []byte { b[0x0E] = 0; b[0x0F] = 0; return reseal(b) }, codes.TerminalSize, 0x0E},
		{"cols 0", two, func(b []byte) []byte { b[0x0F] = 0; return reseal(b) }, codes.TerminalSize, 0x0F},
		{"reserved config byte", two, func(b []byte) []byte { b[0x10] = 1; return reseal(b) }, codes.Reserved, 0x10},
		{"reserved header first", two, func(b []byte) []byte { b[0x1D] = 1; return reseal(b) }, codes.Reserved, 0x1D},
		{"reserved header last", two, func(b []byte) []byte { b[0x37] = 1; return reseal(b) }, codes.Reserved, 0x1D},
		{"body crc", two, func(b []byte) []byte { b[0x38] ^= 1; return b }, codes.BodyChecksum, 0x38},
		{"body byte", two, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, codes.BodyChecksum, 0x38},
		{"package count flip", two, func(b []byte) []byte { b[0x1C] ^= 1; return b }, codes.BodyChecksum, 0x38},
		{"64-byte file", two, func(b []byte) []byte { return reseal(b[:64]) }, codes.Package, 0x40},
		{"huge package count", two, setU32(offPackageCount, 0xFFFFFFFF), codes.Package, 0x40},
		{"huge dep count", two, setU32(0xC0, 0xFFFFFFFF), codes.Package, 0xC0},
		{"huge string count", two, setU32(0xC8, 0xFFFFFFFF), codes.Package, 0xC8},
		{"string table short by one", two, func(b []byte) []byte { return reseal(b[:len(b)-1]) }, codes.Package, 0xC8},
		{"trailing byte", two, func(b []byte) []byte { return reseal(append(b, 0)) }, codes.TrailingData, len(two)},
		{"name ref out of range", two, setU32(rec0+recName, 1000), codes.Package, rec0 + recName},
		{"name ref length overflow", two, setU32(rec0+recName+4, 0xFFFFFFFF), codes.Package, rec0 + recName},
		{"empty name", two, setU32(rec0+recName+4, 0), codes.Package, rec0 + recName},
		{"name not utf8", two, func(b []byte) []byte { b[0xCC] = 0xff; return reseal(b) }, codes.Package, rec0 + recName},
		{"name starts with dot", two, func(b []byte) []byte { b[0xCC] = '.'; return reseal(b) }, codes.Package, rec0 + recName},
		{"scope starts with underscore", two, func(b []byte) []byte { b[0xCD] = '_'; return reseal(b) }, codes.Package, rec0 + recName},
		{"name with space", two, func(b []byte) []byte { b[0xCE] = ' '; return reseal(b) }, codes.Package, rec0 + recName},
		{"version not semver", two, func(b []byte) []byte { b[0xD7] = 'x'; return reseal(b) }, codes.Package, rec0 + recVersion},
		{"resolved scheme", two, func(b []byte) []byte { b[0xDB] = 'f'; return reseal(b) }, codes.Package, rec0 + recResolved},
		{"resolved space", two, func(b []byte) []byte { b[0xF0] = ' '; return reseal(b) }, codes.Package, rec0 + recResolved},
		{"integrity alg", two, func(b []byte) []byte { b[0x116] = '1'; return reseal(b) }, codes.Package, rec0 + recIntegrity},
		{"integrity base64", two, func(b []byte) []byte { b[0x11A] = '%'; return reseal(b) }, codes.Package, rec0 + recIntegrity},
		{"integrity non-canonical padding bits", two, func(b []byte) []byte { b[0x1D4] = 'N'; return reseal(b) }, codes.Package, rec1 + recIntegrity},
		{"deps past table", two, setU32(rec0+recDepsCount, 2), codes.Package, rec0 + recDepsFirst},
		{"deps first past table", two, setU32(rec1+recDepsFirst, 2), codes.Package, rec1 + recDepsFirst},
		{"dep index out of range", two, setU32(0xC4, 2), codes.Package, rec0 + recDepsFirst},
		{"dep on itself", two, setU32(0xC4, 0), codes.Package, rec0 + recDepsFirst},
		{"dev flag ok", two, setU32(rec0+recFlags, 7), "", 0},
		{"unknown flag", two, setU32(rec0+recFlags, 8), codes.Package, rec0 + recFlags},
		{"record reserved", two, func(b []byte) []byte { b[rec1+0x3F] = 1; return reseal(b) }, codes.Package, rec1 + recReserved},
		{"order", two, func(b []byte) []byte {
			r0 := append([]byte(nil), b[rec0:rec0+RecordSize]...)
			copy(b[rec0:], b[rec1:rec1+RecordSize])
			copy(b[rec1:], r0)
			// Record 0 (now left-pad) has no deps; record 1 keeps its dep on index 1,
			// which is now itself: point it at 0 so order is the first failure.
			binary.BigEndian.PutUint32(b[0xC4:], 0)
			return reseal(b)
		}, codes.Package, rec1},
		{"duplicate record", two, func(b []byte) []byte {
			copy(b[rec1:rec1+0x20], b[rec0:rec0+0x20])
			return reseal(b)
		}, codes.Package, rec1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := messWith(tt.base, tt.mutate)
			_, err := Decode(b)
			checkErr(t, err, tt.wantCode, tt.wantOff)
		})
	}
}

func TestEncodeSortsAndRenumbers(t *testing.T) {
	want, err := Decode(readFixture(t, "two-packages.lockb"))
	if err != nil {
		t.Fatal(err)
	}
	// The same packages in reverse order, dependencies by input position.
	in := &Lockfile{Config: want.Config, Packages: []Package{want.Packages[1], want.Packages[0]}}
	in.Packages[1].Dependencies = []uint32{0}
	in.Packages[0].Dependencies = nil
	b, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, readFixture(t, "two-packages.lockb")) {
		t.Errorf("unsorted input did not encode canonically")
	}
}

func TestEncodeRejects(t *testing.T) {
	base, _ := Decode(readFixture(t, "two-packages.lockb"))
	tests := []struct {
		name   string
		mutate func(*Lockfile)
		want   codes.Code
	}{
		{"duplicate", func(lf *Lockfile) { lf.Packages[1] = lf.Packages[0]; lf.Packages[1].Dependencies = nil }, codes.Package},
		{"self dependency", func(lf *Lockfile) { lf.Packages[1].Dependencies = []uint32{1} }, codes.Package},
		{"dependency twice", func(lf *Lockfile) { lf.Packages[0].Dependencies = []uint32{1, 1} }, codes.Package},
		{"dependency out of range", func(lf *Lockfile) { lf.Packages[0].Dependencies = []uint32{5} }, codes.Package},
		{"bad name", func(lf *Lockfile) { lf.Packages[0].Name = "" }, codes.Package},
		{"bad flags", func(lf *Lockfile) { lf.Packages[0].Flags = 8 }, codes.Package},
		{"bad config", func(lf *Lockfile) { lf.Config.Rows = 0 }, codes.TerminalSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lf := &Lockfile{Config: base.Config, Packages: append([]Package(nil), base.Packages...)}
			tt.mutate(lf)
			if _, err := Encode(lf); !errors.Is(err, tt.want) {
				t.Fatalf("Encode error %v, want %s", err, tt.want)
			}
		})
	}
}

func TestVersionRule(t *testing.T) {
	good := []string{"0.0.0", "1.2.3", "10.20.30", "1.1.2-prerelease+meta", "1.0.0-alpha.beta.1", "1.0.0-0A.is.legal",
		"1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay", "1.2.3----RC-SNAPSHOT.12.9.1--.12+788", "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
		"1.0.0-00a", "2.0.0+001"}
	bad := []string{"", "1", "1.2", "1.2.3-0123", "1.2.3-0123.0123", "1.1.2+.123", "+invalid", "-invalid", "1.2.3.DEV", "1.2-SNAPSHOT",
		"01.1.1", "1.01.1", "1.1.01", "1.2.3-", "1.2.3+", "1.2.3-a..b", "v1.2.3", "1.2.3 ", "1.2.3-+", "1.2.3-é"}
	for _, v := range good {
		if err := checkVersion([]byte(v)); err != nil {
			t.Errorf("%q rejected: %v", v, err)
		}
	}
	for _, v := range bad {
		if checkVersion([]byte(v)) == nil {
			t.Errorf("%q accepted", v)
		}
	}
	if checkVersion([]byte("1.0.0-"+strings.Repeat("a", 251))) == nil {
		t.Errorf("257-byte version accepted")
	}
}

func TestNameRule(t *testing.T) {
	good := []string{"a", "left-pad", "@acme/core", "Legacy-Name", "a.b_c~d!e*f'g(h)", strings.Repeat("a", 214)}
	bad := []string{"", ".a", "_a", "@acme", "@/x", "@acme/", "@.a/b", "@a/_b", "a/b", "a b", "a@b", strings.Repeat("a", 215), "@a/b/c"}
	for _, n := range good {
		if err := checkName([]byte(n)); err != nil {
			t.Errorf("%q rejected: %v", n, err)
		}
	}
	for _, n := range bad {
		if checkName([]byte(n)) == nil {
			t.Errorf("%q accepted", n)
		}
	}
}

// TestBoundedAllocation: whatever the counts claim, decoding allocates a
// small multiple of the file's size.
func TestBoundedAllocation(t *testing.T) {
	two := readFixture(t, "two-packages.lockb")
	for _, off := range []int{offPackageCount, 0xC0, 0xC8} {
		b := messWith(two, func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], 0x7FFFFFFF); return reseal(b) })
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 100 {
			Decode(b)
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / 100; per > uint64(8*len(b)+4096) {
			t.Errorf("count at 0x%x = 2^31: %d bytes allocated per decode of a %d-byte file", off, per, len(b))
		}
	}
}

func TestUpdateSerializes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bun.lockb")
	c := config.Default()
	c.Rows = 1
	if err := Create(path, c, false); err != nil {
		t.Fatal(err)
	}
	if err := Create(path, c, false); !errors.Is(err, ErrExists) {
		t.Fatalf("Create over an existing file: %v", err)
	}
	var wg sync.WaitGroup
	const n = 40
	for range n {
		wg.Go(func() {
			_, err := Update(path, func(lf *Lockfile) error { lf.Config.Rows++; return nil })
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	lf, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if lf.Config.Rows != 1+n {
		t.Errorf("rows = %d after %d concurrent increments from 1: updates were lost", lf.Config.Rows, n)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
}

func TestFailedUpdateLeavesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bun.lockb")
	if err := Create(path, config.Default(), false); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	_, err := Update(path, func(lf *Lockfile) error { lf.Config.Cols = 0; return nil })
	if !errors.Is(err, codes.TerminalSize) {
		t.Fatalf("got %v, want terminal-size", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Errorf("a refused update changed the file")
	}
}

func TestStorePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bun.lockb")
	env := map[string]string{config.EnvTerminal: "raw;50x132"}
	s, err := OpenStore(path, true, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Load(); got.TerminalMode != config.Raw || got.Rows != 50 {
		t.Fatalf("environment not applied: %+v", got)
	}
	if _, err := s.Update(func(c config.Config) (config.Config, error) { c.FeatureFlags |= config.Debug; return c, nil }); err != nil {
		t.Fatal(err)
	}
	lf, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The file holds its own fields plus the change; the environment's
	// override is a runtime layer and is never written.
	want := config.Default()
	want.FeatureFlags |= config.Debug
	if d := cmp.Diff(want, lf.Config); d != "" {
		t.Errorf("file (-want +got):\n%s", d)
	}
	if got := s.Load(); got.TerminalMode != config.Raw || got.Rows != 50 || !got.Enabled(config.Debug) {
		t.Errorf("live config %+v: want the override and the change", got)
	}
	// Another writer changes the file: an Update starts from the file's
	// bytes, not from the Store's copy, so that change is kept.
	if _, err := Update(path, func(lf *Lockfile) error { lf.Config.Cols = 99; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(func(c config.Config) (config.Config, error) { c.FeatureFlags |= config.TraceConfig; return c, nil }); err != nil {
		t.Fatal(err)
	}
	if lf, _ := ReadFile(path); lf.Config.Cols != 99 || !lf.Config.Enabled(config.TraceConfig|config.Debug) {
		t.Errorf("a write lost another writer's change: %+v", lf.Config)
	}
	// A failing persist publishes nothing.
	os.Remove(path)
	os.Mkdir(path, 0o755)
	before := s.Load()
	if _, err := s.Update(func(c config.Config) (config.Config, error) { c.Rows = 7; return c, nil }); err == nil {
		t.Fatal("update with an unwritable file succeeded")
	}
	if s.Load() != before {
		t.Errorf("a config that was not persisted was published")
	}
}

// A symlinked lockfile: writes replace the target, the link stays.
func TestWritesFollowSymlinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real", "bun.lockb")
	os.Mkdir(filepath.Dir(target), 0o755)
	if err := Create(target, config.Default(), false); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "bun.lockb")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := UpdateFrom(link, "cli", func(lf *Lockfile) error { lf.Config.Rows = 33; return nil }); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", st, err)
	}
	if lf, err := ReadFile(target); err != nil || lf.Config.Rows != 33 {
		t.Errorf("target: %+v %v", lf, err)
	}
}
