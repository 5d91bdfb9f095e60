package lockfile

import (
	"encoding/binary"
	"fmt"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
)

// Change is one header field Repair rewrote.
type Change struct {
	Offset int    `json:"offset"`
	Field  string `json:"field"`
	Old    string `json:"old"`
	New    string `json:"new"`
}

// RepairReport says what Repair found and did.
type RepairReport struct {
	// Found is the error the file had before repair (nil: it was valid).
	Found error `json:"-"`
	// Repaired is true when new bytes were produced.
	Repaired bool `json:"repaired"`
	// Packages is the number of package records kept (all of them).
	Packages int `json:"packages"`
	// Changes lists every header field that differs, in offset order.
	Changes []Change `json:"changes"`
}

// Repair rebuilds a damaged header when the body's checksum still holds:
// the header gets cfg (config.Default() when cfg is nil), a fresh header
// checksum and zeroed reserved bytes, and every package is kept. A file
// whose body is damaged is refused with the body's error and, where one
// record fails its rules, that record named: Repair never drops packages.
// A valid file is returned unchanged with Repaired false.
func Repair(b []byte, cfg *config.Config) ([]byte, RepairReport, error) {
	var rep RepairReport
	lf, err := Decode(b)
	if err == nil {
		rep.Packages = len(lf.Packages)
		return b, rep, nil
	}
	rep.Found = err
	switch codes.Of(err) {
	case codes.Truncated:
		return nil, rep, fmt.Errorf("cannot repair: %w (no header to rebuild and no body to keep)", err)
	case codes.BodyChecksum, codes.Package, codes.TrailingData:
		return nil, rep, bodyDamage(b, err)
	}
	// The header is damaged. The body checksum covers packageCount and
	// every byte from 0x40, so if it holds, the packages are intact.
	if got, stored := bodyCRC(b), binary.BigEndian.Uint64(b[offBodyCRC:]); got != stored {
		return nil, rep, fmt.Errorf("cannot repair: header is damaged (%v) and the body checksum fails too (stored 0x%016x, computed 0x%016x): %w",
			err, stored, got, bodyDamage(b, codes.At(codes.BodyChecksum, offBodyCRC, "body checksum mismatch")))
	}
	pkgs, berr := decodeBody(b, binary.BigEndian.Uint32(b[offPackageCount:]))
	if berr != nil {
		return nil, rep, fmt.Errorf("cannot repair: header is damaged (%v) and the body is invalid: %w", err, berr)
	}
	c := config.Default()
	if cfg != nil {
		c = *cfg
	}
	if verr := c.Validate(); verr != nil {
		return nil, rep, fmt.Errorf("cannot repair with an invalid config: %w", verr)
	}
	out := make([]byte, len(b))
	copy(out, b)
	copy(out, config.Magic)
	cb := c.Bytes()
	copy(out[offConfig:], cb[:])
	binary.BigEndian.PutUint64(out[offHeaderCRC:], config.HeaderChecksum(&cb))
	clear(out[offReserved:offBodyCRC])
	rep.Changes = diffHeaders(b, out)
	rep.Packages = len(pkgs)
	rep.Repaired = true
	if _, err := Decode(out); err != nil {
		// Cannot happen if the body checked out; refuse rather than write.
		return nil, rep, fmt.Errorf("repair produced an invalid file: %w", err)
	}
	return out, rep, nil
}

// bodyDamage explains a damaged body: the first record that fails its
// rules when read without the checksum, or that none does (the damage is
// then in bytes that still look valid, and no record can be trusted).
func bodyDamage(b []byte, err error) error {
	if codes.Of(err) == codes.Package || codes.Of(err) == codes.TrailingData {
		return fmt.Errorf("cannot repair a damaged body (packages are never dropped): %w", err)
	}
	_, berr := decodeBody(b, binary.BigEndian.Uint32(b[offPackageCount:]))
	if berr != nil {
		return fmt.Errorf("cannot repair a damaged body (packages are never dropped); first bad part: %v: %w", berr, err)
	}
	return fmt.Errorf("cannot repair a damaged body (packages are never dropped); every record still passes its rules, so the damage is in data that looks valid: %w", err)
}

// headerFields describes the header for dumps and repair reports.
var headerFields = []struct {
	off, size int
	name      string
}{
	{offMagic, 4, "magic"},
	{config.OffsetVersion, 1, "version"},
	{config.OffsetRegistryHash, 4, "registryHash"},
	{config.OffsetFeatureFlags, 4, "featureFlags"},
	{config.OffsetTerminalMode, 1, "terminalMode"},
	{config.OffsetRows, 1, "rows"},
	{config.OffsetCols, 1, "cols"},
	{config.OffsetReserved, 1, "reserved"},
	{offHeaderCRC, 8, "headerCRC64"},
	{offPackageCount, 4, "packageCount"},
	{offReserved, reservedLen, "reserved"},
	{offBodyCRC, 8, "bodyCRC64"},
}

func diffHeaders(old, new []byte) []Change {
	var out []Change
	for _, f := range headerFields {
		o, n := old[f.off:f.off+f.size], new[f.off:f.off+f.size]
		if string(o) != string(n) {
			out = append(out, Change{Offset: f.off, Field: f.name, Old: describe(f.name, o), New: describe(f.name, n)})
		}
	}
	return out
}

// describe decodes a header field's bytes for people.
func describe(field string, b []byte) string {
	switch field {
	case "magic":
		return fmt.Sprintf("%q", b)
	case "version", "rows", "cols":
		return fmt.Sprint(b[0])
	case "registryHash":
		return fmt.Sprintf("0x%08x", binary.BigEndian.Uint32(b))
	case "featureFlags":
		f := config.Flags(binary.BigEndian.Uint32(b))
		return fmt.Sprintf("%s (%s)", f.Hex(), f)
	case "terminalMode":
		return config.Mode(b[0]).String()
	case "headerCRC64", "bodyCRC64":
		return fmt.Sprintf("0x%016x", binary.BigEndian.Uint64(b))
	case "packageCount":
		return fmt.Sprint(binary.BigEndian.Uint32(b))
	}
	for _, x := range b {
		if x != 0 {
			return "not all zero"
		}
	}
	if len(b) == 1 {
		return "0"
	}
	return "all zero"
}
