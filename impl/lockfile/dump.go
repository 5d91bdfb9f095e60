package lockfile

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/bun13/bun13/impl/config"
)

// Dump writes an annotated hex dump of b: one line per header field with
// offset, bytes, field name, decoded value and a verdict (OK or BAD, with
// the checksums recomputed), then one line per package record. It reads
// damaged and short files too, showing what is there.
func Dump(w io.Writer, b []byte) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-6s | %-26s | %-13s | %-36s | %s\n", "Offset", "Hex", "Field", "Value", "Check")
	fmt.Fprintf(&sb, "%s\n", strings.Repeat("-", 96))
	var cfgBytes [config.Size]byte
	if len(b) >= offConfig+config.Size {
		copy(cfgBytes[:], b[offConfig:])
	}
	cfg := config.FromBytes(&cfgBytes)
	verdict := cfgVerdicts(cfg)
	for _, f := range headerFields {
		if f.off >= len(b) {
			fmt.Fprintf(&sb, "0x%02X   | %-26s | %-13s | %-36s | %s\n", f.off, "(missing)", f.name, "", "BAD (truncated)")
			continue
		}
		end := min(f.off+f.size, len(b))
		raw := b[f.off:end]
		if end-f.off < f.size {
			fmt.Fprintf(&sb, "0x%02X   | %-26s | %-13s | %-36s | %s\n", f.off, hexBytes(raw), f.name, "", "BAD (truncated)")
			continue
		}
		check := verdict[f.off]
		switch f.name {
		case "magic":
			check = okBad(string(raw) == config.Magic, "")
		case "headerCRC64":
			got := headerCRC(b)
			check = okBad(binary.BigEndian.Uint64(raw) == got, fmt.Sprintf("computed 0x%016x", got))
		case "bodyCRC64":
			if len(b) >= HeaderSize {
				got := bodyCRC(b)
				check = okBad(binary.BigEndian.Uint64(raw) == got, fmt.Sprintf("computed 0x%016x", got))
			}
		case "reserved":
			check = okBad(describe(f.name, raw) != "not all zero", "")
		}
		fmt.Fprintf(&sb, "0x%02X   | %-26s | %-13s | %-36s | %s\n", f.off, hexBytes(raw), f.name, describe(f.name, raw), check)
	}
	if len(b) >= HeaderSize {
		count := binary.BigEndian.Uint32(b[offPackageCount:])
		l, lerr := checkLayout(b, count)
		switch {
		case lerr != nil:
			fmt.Fprintf(&sb, "0x%02X   | body: %v\n", HeaderSize, lerr)
		default:
			strtab := b[l.strStart:l.strEnd]
			for i := range l.count {
				at := HeaderSize + i*RecordSize
				name := refString(b, strtab, at+recName)
				ver := refString(b, strtab, at+recVersion)
				fmt.Fprintf(&sb, "0x%04X | record %-5d %s@%s (deps %d)\n", at, i, name, ver, binary.BigEndian.Uint32(b[at+recDepsCount:]))
			}
			fmt.Fprintf(&sb, "0x%04X | dependency table: %d indices\n", l.depOff, l.depCount)
			fmt.Fprintf(&sb, "0x%04X | string table: %d bytes\n", l.strOff, l.strEnd-l.strStart)
		}
	}
	fmt.Fprintf(&sb, "total %d bytes\n", len(b))
	_, err := io.WriteString(w, sb.String())
	return err
}

// cfgVerdicts gives each config field's OK/BAD by SPEC section 2.
func cfgVerdicts(c config.Config) map[int]string {
	return map[int]string{
		config.OffsetVersion:      okBad(c.Version <= config.MaxVersion, ""),
		config.OffsetRegistryHash: okBad(c.RegistryHash != 0, ""),
		config.OffsetFeatureFlags: okBad(c.Version > config.MaxVersion || c.FeatureFlags&^config.Mask(c.Version) == 0, ""),
		config.OffsetTerminalMode: okBad(c.TerminalMode <= config.Raw, ""),
		config.OffsetRows:         okBad(c.Rows != 0, ""),
		config.OffsetCols:         okBad(c.Cols != 0, ""),
		offPackageCount:           "",
	}
}

func okBad(ok bool, note string) string {
	s := "BAD"
	if ok {
		s = "OK"
	}
	if note != "" {
		s += " (" + note + ")"
	}
	return s
}

func hexBytes(b []byte) string {
	if len(b) > 8 {
		return fmt.Sprintf("(%d bytes)", len(b))
	}
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, " ")
}

func refString(b, strtab []byte, at int) string {
	off, n := uint64(binary.BigEndian.Uint32(b[at:])), uint64(binary.BigEndian.Uint32(b[at+4:]))
	if off+n > uint64(len(strtab)) {
		return "(bad ref)"
	}
	return fmt.Sprintf("%q", strtab[off:off+n])
}
