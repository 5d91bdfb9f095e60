package lockfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
)

// corruptionMatrix is the design notes' corruption matrix, one row each,
// made from golden files. fixtures/corrupt holds the files and their
// manifest; `go test ./impl/lockfile -run Matrix -update` rewrites them.
var corruptionMatrix = []struct {
	file    string
	symptom string // the design notes' words
	base    string
	mutate  func([]byte) []byte
	code    codes.Code
	offset  int
	repair  bool // Repair rebuilds it
}{
	{"bit-flip-header.lockb", "error.CorruptedHeader: disk bit flip / bad sector", "two-packages.lockb",
		func(b []byte) []byte { b[0x0F] ^= 0x04; return b }, codes.HeaderChecksum, 0x11, true},
	{"zeroed-registry-hash.lockb", "registry_hash = 0x00000000: failed hash calc", "two-packages.lockb",
		func(b []byte) []byte { clear(b[0x05:0x09]); return resealHeader(b) }, codes.RegistryHash, 0x05, true},
	{"flags-reset-torn-write.lockb", "feature_flags reset to 0: race condition on write", "forty-packages.lockb",
		func(b []byte) []byte { clear(b[0x09:0x0D]); return b }, codes.HeaderChecksum, 0x11, true},
	{"terminal-mode-ff.lockb", "terminal_mode = 0xFF: invalid enum value", "two-packages.lockb",
		func(b []byte) []byte { b[0x0D] = 0xFF; return resealHeader(b) }, codes.TerminalMode, 0x0D, true},
	{"crc-mismatch-partial-write.lockb", "CRC64 mismatch: partial write / crash (body cut short)", "forty-packages.lockb",
		func(b []byte) []byte { return b[:len(b)/2] }, codes.BodyChecksum, 0x38, false},
	{"partial-write-header.lockb", "CRC64 mismatch: partial write / crash (header cut short)", "forty-packages.lockb",
		func(b []byte) []byte { return b[:0x30] }, codes.Truncated, 0x30, false},
	{"crc-mismatch-zeroed-page.lockb", "CRC64 mismatch: partial write / crash (a zeroed 4 KiB page)", "forty-packages.lockb",
		func(b []byte) []byte { clear(b[4096:8192]); return b }, codes.BodyChecksum, 0x38, false},
}

// resealHeader recomputes the header checksum only: the writer wrote a
// bad value consistently, so the checksum holds and the field check fires.
func resealHeader(b []byte) []byte {
	binary.BigEndian.PutUint64(b[offHeaderCRC:], headerCRC(b))
	return b
}

type manifestEntry struct {
	Error   codes.Code `json:"error"`
	Offset  int        `json:"offset"`
	Symptom string     `json:"symptom"`
	Base    string     `json:"base"`
}

func TestCorruptionMatrix(t *testing.T) {
	dir := "../../fixtures/corrupt"
	manifest := map[string]manifestEntry{}
	for _, row := range corruptionMatrix {
		b := messWith(readFixture(t, row.base), row.mutate)
		manifest[row.file] = manifestEntry{row.code, row.offset, row.symptom, row.base}
		path := filepath.Join(dir, row.file)
		if *update {
			os.MkdirAll(dir, 0o755)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Run(row.file, func(t *testing.T) {
			onDisk, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to generate)", err)
			}
			if !bytes.Equal(onDisk, b) {
				t.Fatalf("%s differs from what the matrix makes (run with -update)", path)
			}
			_, err = Decode(b)
			checkErr(t, err, row.code, row.offset)

			out, rep, err := Repair(b, nil)
			if !row.repair {
				if err == nil {
					t.Fatalf("Repair accepted a file whose body is damaged")
				}
				return
			}
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			orig, _ := Decode(readFixture(t, row.base))
			fixed, err := Decode(out)
			if err != nil {
				t.Fatalf("repaired file does not decode: %v", err)
			}
			if d := cmp.Diff(orig.Packages, fixed.Packages); d != "" {
				t.Errorf("Repair changed packages (-want +got):\n%s", d)
			}
			if fixed.Config != config.Default() || !rep.Repaired || rep.Packages != len(orig.Packages) || len(rep.Changes) == 0 {
				t.Errorf("report %+v, config %+v", rep, fixed.Config)
			}
		})
	}
	want, _ := json.MarshalIndent(manifest, "", "  ")
	want = append(want, '\n')
	mpath := filepath.Join(dir, "manifest.json")
	if *update {
		os.WriteFile(mpath, want, 0o644)
	}
	got, err := os.ReadFile(mpath)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s is stale (run with -update)", mpath)
	}
}

func TestRepairWithGivenConfig(t *testing.T) {
	two := readFixture(t, "two-packages.lockb")
	orig, _ := Decode(two)
	b := messWith(two, func(b []byte) []byte { b[0x1D] = 0xEE; return b })
	out, rep, err := Repair(b, &orig.Config)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, two) {
		t.Errorf("repair with the original config did not restore the original bytes")
	}
	if d := cmp.Diff([]Change{{Offset: 0x1D, Field: "reserved", Old: "not all zero", New: "all zero"}}, rep.Changes); d != "" {
		t.Errorf("changes mismatch (-want +got):\n%s", d)
	}
	// A valid file is left alone.
	if _, rep, err := Repair(two, nil); err != nil || rep.Repaired {
		t.Errorf("Repair of a valid file: %+v, %v", rep, err)
	}
	// Header and body both damaged: refused.
	both := messWith(two, func(b []byte) []byte { b[0x05] ^= 1; b[len(b)-1] ^= 1; return b })
	if _, _, err := Repair(both, nil); err == nil || !strings.Contains(err.Error(), "body") {
		t.Errorf("Repair of header+body damage: %v", err)
	}
}

func TestRepairNamesBadRecord(t *testing.T) {
	b := messWith(readFixture(t, "two-packages.lockb"), func(b []byte) []byte { b[0x80+0x2C] = 1; return b })
	_, _, err := Repair(b, nil)
	if err == nil || !strings.Contains(err.Error(), "record 1 reserved") {
		t.Fatalf("error does not name the record: %v", err)
	}
}

func TestDumpGolden(t *testing.T) {
	for _, name := range []string{"two-packages.lockb", "corrupt-terminal-mode.lockb", "corrupt-truncated.lockb", "corrupt-body-checksum.lockb"} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Dump(&buf, readFixture(t, name)); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(name, ".lockb")+".dump")
			if *update {
				os.WriteFile(golden, buf.Bytes(), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), buf.String()); d != "" {
				t.Errorf("dump mismatch (-want +got):\n%s", d)
			}
		})
	}
}
