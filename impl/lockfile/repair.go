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
	// Notes say where the rebuilt config came from and what could be
	// proven intact (RepairWith).
	Notes []string `json:"notes,omitempty"`
}

// RepairOptions say where RepairWith takes the rebuilt config from.
type RepairOptions struct {
	// Config, when not nil, is the config to write (as Repair's cfg).
	Config *config.Config
	// Known are configs the file is known to have held, oldest first
	// (the history sidecar's valid records).
	Known []config.Config
}

// Repair rebuilds a damaged header when the body's checksum still holds:
// the header gets cfg (config.Default() when cfg is nil), a fresh header
// checksum and zeroed reserved bytes, and every package is kept. A file
// whose body is damaged is refused with the body's error and, where one
// record fails its rules, that record named: Repair never drops packages.
// A valid file is returned unchanged with Repaired false.
func Repair(b []byte, cfg *config.Config) ([]byte, RepairReport, error) {
	return repair(b, func(*RepairReport) (config.Config, error) {
		if cfg != nil {
			return *cfg, nil
		}
		return config.Default(), nil
	})
}

// RepairWith is Repair keeping what it can prove. Unless o.Config names
// the config, the damaged header's config bytes are kept when the header
// CRC64 proves them intact: the CRC matches them once the magic is
// restored (damage in the magic, the stored CRC itself in one byte, or
// the reserved bytes), or exactly one single-byte change of them matches
// it (one damaged byte, corrected). A config proven intact whose field is
// invalid keeps its other fields, the invalid one from the default. With
// no proof, the header's bytes are kept when they equal a config the file
// is known to have held (o.Known), else the newest known config is used,
// else the default. Report.Notes say which happened.
func RepairWith(b []byte, o RepairOptions) ([]byte, RepairReport, error) {
	return repair(b, func(rep *RepairReport) (config.Config, error) {
		if o.Config != nil {
			rep.Notes = append(rep.Notes, "config: as given (--config-from)")
			return *o.Config, nil
		}
		c, notes := provenConfig(b, o.Known)
		rep.Notes = append(rep.Notes, notes...)
		return c, nil
	})
}

// provenConfig picks the rebuilt config (see RepairWith); b holds at
// least a header.
func provenConfig(b []byte, known []config.Config) (config.Config, []string) {
	var hdr [offHeaderCRC]byte
	copy(hdr[:], b[:offHeaderCRC])
	copy(hdr[:], config.Magic)
	stored := binary.BigEndian.Uint64(b[offHeaderCRC:])
	cfgOf := func(h *[offHeaderCRC]byte) config.Config {
		var cb [config.Size]byte
		copy(cb[:], h[offConfig:])
		return config.FromBytes(&cb)
	}
	crcOK := func(h *[offHeaderCRC]byte) bool { return config.CRC64(h[:]) == stored }
	fromProof := func(c config.Config, why string) (config.Config, []string) {
		notes := []string{"config: " + why}
		if err := c.Validate(); err != nil {
			fixed, fields := keepValid(c)
			notes = append(notes, fmt.Sprintf("the intact config is itself invalid (%v): %s reset to the default, every other field kept", err, fields))
			return fixed, notes
		}
		return c, append(notes, "every config field kept")
	}
	if crcOK(&hdr) {
		return fromProof(cfgOf(&hdr), "the header CRC64 matches the stored config bytes: they are intact")
	}
	// The stored CRC damaged in one byte: the computed one differs from
	// it in that byte alone.
	if diff := config.CRC64(hdr[:]) ^ stored; diff != 0 && singleByte(diff) {
		return fromProof(cfgOf(&hdr), "the stored header CRC64 differs from the config bytes' in one byte: the CRC was damaged, the config bytes are intact")
	}
	// One damaged config byte: exactly one single-byte change matches.
	var fix [offHeaderCRC]byte
	found := 0
	fixAt := 0
	for pos := offConfig; pos < offHeaderCRC; pos++ {
		orig := hdr[pos]
		for v := 0; v < 256 && found < 2; v++ {
			if byte(v) == orig {
				continue
			}
			hdr[pos] = byte(v)
			if crcOK(&hdr) {
				found++
				fix, fixAt = hdr, pos
			}
		}
		hdr[pos] = orig
	}
	if found == 1 {
		return fromProof(cfgOf(&fix), fmt.Sprintf("one damaged byte at offset 0x%02X (0x%02x, corrected to 0x%02x: the only single-byte change the header CRC64 accepts)", fixAt, hdr[fixAt], fix[fixAt]))
	}
	cur := cfgOf(&hdr)
	for i := len(known) - 1; i >= 0; i-- {
		if known[i] == cur {
			return cur, []string{"config: the header's config bytes equal a config the history records: kept"}
		}
	}
	if len(known) > 0 {
		return known[len(known)-1], []string{"config: the header CRC64 proves nothing (more than one damaged byte); rebuilt from the newest history record"}
	}
	return config.Default(), []string{"config: the header CRC64 proves nothing (more than one damaged byte) and there is no history: rebuilt from the default config (pass --config-from to choose)"}
}

func singleByte(x uint64) bool {
	for i := 0; i < 8; i++ {
		if x&^(0xff<<(8*i)) == 0 {
			return true
		}
	}
	return false
}

// keepValid replaces the invalid fields of c by the default's.
func keepValid(c config.Config) (config.Config, string) {
	d := config.Default()
	var reset []string
	if c.Version > config.MaxVersion {
		c.Version, reset = d.Version, append(reset, "version")
	}
	if c.RegistryHash == 0 {
		c.RegistryHash, reset = d.RegistryHash, append(reset, "registryHash")
	}
	if c.FeatureFlags&^config.Mask(c.Version) != 0 {
		c.FeatureFlags, reset = c.FeatureFlags&config.Mask(c.Version), append(reset, "featureFlags (undefined bits cleared)")
	}
	if c.TerminalMode > config.Raw {
		c.TerminalMode, reset = d.TerminalMode, append(reset, "terminalMode")
	}
	if c.Rows == 0 {
		c.Rows, reset = d.Rows, append(reset, "rows")
	}
	if c.Cols == 0 {
		c.Cols, reset = d.Cols, append(reset, "cols")
	}
	if c.Validate() != nil {
		return d, "every field"
	}
	return c, fmt.Sprint(reset)
}

// repair is Repair with the config chosen by pick.
func repair(b []byte, pick func(*RepairReport) (config.Config, error)) ([]byte, RepairReport, error) {
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
	c, perr := pick(&rep)
	if perr != nil {
		return nil, rep, perr
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
