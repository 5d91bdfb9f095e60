package lockfile

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/bun13/bun13/impl/codes"
	"github.com/bun13/bun13/impl/config"
)

// PkgFlags are a package record's flags.
type PkgFlags uint32

// Package flags.
const (
	Dev      PkgFlags = 1 << 0
	Optional PkgFlags = 1 << 1
	Peer     PkgFlags = 1 << 2

	pkgFlagsMask = Dev | Optional | Peer
)

// Package is one package record with its strings resolved.
type Package struct {
	Name      string
	Version   string
	Resolved  string
	Integrity string
	// Dependencies are indices into Lockfile.Packages.
	Dependencies []uint32
	Flags        PkgFlags
}

// Lockfile is a decoded bun.lockb.
type Lockfile struct {
	Config   config.Config
	Packages []Package
}

// cursor reads big-endian fields from b; callers check bounds first, as
// zip's readBuf does, so a read never runs past the end.
type cursor []byte

func (c cursor) u32(off int) uint32 { return binary.BigEndian.Uint32(c[off:]) }

// Header is the decoded fixed header.
type Header struct {
	Config       config.Config
	HeaderCRC    uint64
	PackageCount uint32
	BodyCRC      uint64
}

// bodyCRC computes the body checksum of a file of at least HeaderSize bytes.
func bodyCRC(b []byte) uint64 {
	crc := config.CRC64(b[offPackageCount : offPackageCount+4])
	return config.CRC64Update(crc, b[HeaderSize:])
}

// headerCRC computes the header checksum of a file of at least HeaderSize bytes.
func headerCRC(b []byte) uint64 {
	return config.HeaderChecksum((*[config.Size]byte)(b[offConfig : offConfig+config.Size]))
}

// DecodeHeader checks the 64-byte header in the SPEC's order up to and
// including the reserved bytes (not the body checksum) and returns it.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, codes.At(codes.Truncated, len(b), "file is %d bytes, a header needs %d", len(b), HeaderSize)
	}
	if string(b[:4]) != config.Magic {
		return Header{}, codes.At(codes.BadMagic, 0, "magic is %q, want %q", b[:4], config.Magic)
	}
	be := binary.BigEndian
	cb := (*[config.Size]byte)(b[offConfig : offConfig+config.Size])
	stored := be.Uint64(b[offHeaderCRC:])
	if got := config.HeaderChecksum(cb); got != stored {
		return Header{}, codes.At(codes.HeaderChecksum, offHeaderCRC, "stored 0x%016x, computed 0x%016x", stored, got)
	}
	c := config.FromBytes(cb)
	if !c.Valid() || cb[config.Size-1] != 0 {
		if _, err := config.Parse(cb); err != nil {
			return Header{}, err
		}
	}
	// The 27 reserved bytes as four overlapping 8-byte words.
	if be.Uint64(b[0x1D:])|be.Uint64(b[0x25:])|be.Uint64(b[0x2D:])|be.Uint64(b[0x30:]) != 0 {
		return Header{}, codes.At(codes.Reserved, offReserved, "reserved header bytes 0x1d..0x37 are not all zero")
	}
	return Header{Config: c, HeaderCRC: stored, PackageCount: be.Uint32(b[offPackageCount:]), BodyCRC: be.Uint64(b[offBodyCRC:])}, nil
}

// layout is where the body's sections sit, once checked to fit the file.
type layout struct {
	count    int // packageCount
	depOff   int // offset of the depCount field
	depCount int
	strOff   int // offset of the strBytes field
	strStart int // first string byte
	strEnd   int // one past the last string byte
}

// checkLayout checks that the sections fit, in the SPEC's order, with
// arithmetic in int64-safe ints: counts come from the file and may claim
// anything, so nothing is allocated from them before this passes.
func checkLayout(b []byte, count uint32) (layout, error) {
	n := len(b)
	l := layout{count: int(count)}
	recEnd := HeaderSize + int(count)*RecordSize // count < 2^32, so this fits an int64
	if recEnd+4 > n {
		return l, codes.At(codes.Package, HeaderSize, "%d records and the depCount field need %d bytes, the file has %d", count, recEnd+4, n)
	}
	l.depOff = recEnd
	l.depCount = int(cursor(b).u32(recEnd))
	depEnd := recEnd + 4 + l.depCount*4
	if depEnd+4 > n {
		return l, codes.At(codes.Package, l.depOff, "%d dependency indices and the strBytes field run past the end of file", l.depCount)
	}
	l.strOff = depEnd
	l.strStart = depEnd + 4
	l.strEnd = l.strStart + int(cursor(b).u32(depEnd))
	if l.strEnd > n {
		return l, codes.At(codes.Package, l.strOff, "string table of %d bytes runs past the end of file", l.strEnd-l.strStart)
	}
	if l.strEnd < n {
		return l, codes.At(codes.TrailingData, l.strEnd, "%d bytes after the string table", n-l.strEnd)
	}
	return l, nil
}

// Decode validates b in the SPEC's order and returns the lockfile. Every
// error is a *codes.Error with the SPEC's code and offset. Allocation is
// bounded by a small multiple of len(b) whatever the counts claim.
func Decode(b []byte) (*Lockfile, error) {
	h, err := DecodeHeader(b)
	if err != nil {
		return nil, err
	}
	if got := bodyCRC(b); got != h.BodyCRC {
		return nil, codes.At(codes.BodyChecksum, offBodyCRC, "stored 0x%016x, computed 0x%016x", h.BodyCRC, got)
	}
	pkgs, err := decodeBody(b, h.PackageCount)
	if err != nil {
		return nil, err
	}
	return &Lockfile{Config: h.Config, Packages: pkgs}, nil
}

// decodeBody checks the layout and every record, and builds the packages.
func decodeBody(b []byte, count uint32) ([]Package, error) {
	l, err := checkLayout(b, count)
	if err != nil {
		return nil, err
	}
	// One string holds the whole table and every field is a substring of
	// it; one slice holds every dependency index. Allocation is O(records).
	strtab := b[l.strStart:l.strEnd]
	strs := string(strtab)
	deps := make([]uint32, l.depCount)
	c := cursor(b)
	for i := range deps {
		deps[i] = c.u32(l.depOff + 4 + 4*i)
	}
	pkgs := make([]Package, l.count)
	for i := range pkgs {
		if err := decodeRecord(b, i, l, strtab, strs, deps, &pkgs[i]); err != nil {
			return nil, err
		}
		if i > 0 && !less(&pkgs[i-1], &pkgs[i]) {
			return nil, codes.At(codes.Package, HeaderSize+i*RecordSize, "record %d (%s@%s) is not after record %d (%s@%s)",
				i, pkgs[i].Name, pkgs[i].Version, i-1, pkgs[i-1].Name, pkgs[i-1].Version)
		}
	}
	return pkgs, nil
}

// less orders records by name bytes, then version bytes.
func less(a, b *Package) bool {
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.Version < b.Version
}

func comparePkg(a, b *Package) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
}

// field names and rules, in the record's order.
var fieldRules = [4]struct {
	name  string
	off   int
	check func([]byte) error
}{
	{"name", recName, checkName},
	{"version", recVersion, checkVersion},
	{"resolved", recResolved, checkResolved},
	{"integrity", recIntegrity, checkIntegrity},
}

func decodeRecord(b []byte, i int, l layout, strtab []byte, strs string, deps []uint32, p *Package) error {
	start := HeaderSize + i*RecordSize
	c := cursor(b)
	var fields [4]string
	for k, f := range fieldRules {
		at := start + f.off
		off, n := uint64(c.u32(at)), uint64(c.u32(at+4))
		if off+n > uint64(len(strtab)) {
			return codes.At(codes.Package, at, "record %d %s ref [%d,+%d) is outside the %d-byte string table", i, f.name, off, n, len(strtab))
		}
		s := strtab[off : off+n]
		if !utf8.Valid(s) {
			return codes.At(codes.Package, at, "record %d %s is not valid UTF-8", i, f.name)
		}
		if err := f.check(s); err != nil {
			return codes.At(codes.Package, at, "record %d %s %q: %v", i, f.name, s, err)
		}
		fields[k] = strs[off : off+n]
	}
	first, count := uint64(c.u32(start+recDepsFirst)), uint64(c.u32(start+recDepsCount))
	if first+count > uint64(len(deps)) {
		return codes.At(codes.Package, start+recDepsFirst, "record %d dependencies [%d,+%d) run past the %d-entry table", i, first, count, len(deps))
	}
	ds := deps[first : first+count : first+count]
	for k, d := range ds {
		switch {
		case d >= uint32(l.count):
			return codes.At(codes.Package, start+recDepsFirst, "record %d dependency %d is index %d, only %d packages", i, k, d, l.count)
		case d == uint32(i):
			return codes.At(codes.Package, start+recDepsFirst, "record %d depends on itself", i)
		case k > 0 && d <= ds[k-1]:
			return codes.At(codes.Package, start+recDepsFirst, "record %d dependencies are not strictly ascending", i)
		}
	}
	flags := PkgFlags(c.u32(start + recFlags))
	if flags&^pkgFlagsMask != 0 {
		return codes.At(codes.Package, start+recFlags, "record %d flags 0x%08x set undefined bits", i, uint32(flags))
	}
	for _, x := range b[start+recReserved : start+RecordSize] {
		if x != 0 {
			return codes.At(codes.Package, start+recReserved, "record %d reserved bytes are not zero", i)
		}
	}
	*p = Package{Name: fields[0], Version: fields[1], Resolved: fields[2], Integrity: fields[3], Dependencies: ds, Flags: flags}
	return nil
}

// Encode writes the canonical bytes of lf (SPEC "Canonical writer").
// Packages may come in any order: they are sorted, and their dependency
// indices, which refer to lf.Packages as given, are renumbered. Everything
// is validated first, so Encode's output always decodes.
func Encode(lf *Lockfile) ([]byte, error) {
	if err := lf.Config.Validate(); err != nil {
		return nil, err
	}
	n := len(lf.Packages)
	if uint64(n) > 1<<32-1 {
		return nil, fmt.Errorf("lockfile: %d packages do not fit a u32 count", n)
	}
	order := make([]int, n) // order[k] = input index of sorted record k
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return comparePkg(&lf.Packages[a], &lf.Packages[b]) })
	rank := make([]uint32, n) // rank[input index] = sorted index
	for k, i := range order {
		rank[i] = uint32(k)
	}

	var strtab []byte
	seen := make(map[string]uint32)
	ref := func(s string) [8]byte {
		var r [8]byte
		off, ok := seen[s]
		if !ok {
			off = uint32(len(strtab))
			seen[s] = off
			strtab = append(strtab, s...)
		}
		binary.BigEndian.PutUint32(r[0:], off)
		binary.BigEndian.PutUint32(r[4:], uint32(len(s)))
		return r
	}

	recs := make([]byte, n*RecordSize)
	var deps []uint32
	for k, i := range order {
		p := &lf.Packages[i]
		if k > 0 && comparePkg(&lf.Packages[order[k-1]], p) == 0 {
			return nil, packageError(i, "duplicate package %s@%s", p.Name, p.Version)
		}
		if err := checkFields(p); err != nil {
			return nil, packageError(i, "%v", err)
		}
		if p.Flags&^pkgFlagsMask != 0 {
			return nil, packageError(i, "flags 0x%08x set undefined bits", uint32(p.Flags))
		}
		rec := recs[k*RecordSize : (k+1)*RecordSize]
		for f, s := range [4]string{p.Name, p.Version, p.Resolved, p.Integrity} {
			r := ref(s)
			copy(rec[fieldRules[f].off:], r[:])
		}
		first := len(deps)
		for _, d := range p.Dependencies {
			if int64(d) >= int64(n) {
				return nil, packageError(i, "dependency index %d, only %d packages", d, n)
			}
			deps = append(deps, rank[d])
		}
		mine := deps[first:]
		slices.Sort(mine)
		for j, d := range mine {
			if d == uint32(k) {
				return nil, packageError(i, "%s@%s depends on itself", p.Name, p.Version)
			}
			if j > 0 && d == mine[j-1] {
				return nil, packageError(i, "%s@%s lists a dependency twice", p.Name, p.Version)
			}
		}
		binary.BigEndian.PutUint32(rec[recDepsFirst:], uint32(first))
		binary.BigEndian.PutUint32(rec[recDepsCount:], uint32(len(mine)))
		binary.BigEndian.PutUint32(rec[recFlags:], uint32(p.Flags))
	}

	size := HeaderSize + len(recs) + 4 + 4*len(deps) + 4 + len(strtab)
	out := make([]byte, HeaderSize, size)
	copy(out, config.Magic)
	cb := lf.Config.Bytes()
	copy(out[offConfig:], cb[:])
	binary.BigEndian.PutUint64(out[offHeaderCRC:], config.HeaderChecksum(&cb))
	binary.BigEndian.PutUint32(out[offPackageCount:], uint32(n))
	out = append(out, recs...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(deps)))
	for _, d := range deps {
		out = binary.BigEndian.AppendUint32(out, d)
	}
	out = binary.BigEndian.AppendUint32(out, uint32(len(strtab)))
	out = append(out, strtab...)
	binary.BigEndian.PutUint64(out[offBodyCRC:], bodyCRC(out))
	return out, nil
}

func packageError(i int, format string, args ...any) error {
	return &codes.Error{Code: codes.Package, Offset: codes.NoOffset, Name: fmt.Sprintf("packages[%d]", i), Detail: fmt.Sprintf(format, args...)}
}

// checkFields applies the SPEC's field rules to p's strings.
func checkFields(p *Package) error {
	for f, s := range [4]string{p.Name, p.Version, p.Resolved, p.Integrity} {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%s is not valid UTF-8", fieldRules[f].name)
		}
		if err := fieldRules[f].check([]byte(s)); err != nil {
			return fmt.Errorf("%s %q: %v", fieldRules[f].name, s, err)
		}
	}
	return nil
}

// Equal reports whether two lockfiles hold the same config and packages
// (nil and empty dependency lists are equal).
func Equal(a, b *Lockfile) bool {
	if a.Config != b.Config || len(a.Packages) != len(b.Packages) {
		return false
	}
	for i := range a.Packages {
		p, q := &a.Packages[i], &b.Packages[i]
		if p.Name != q.Name || p.Version != q.Version || p.Resolved != q.Resolved || p.Integrity != q.Integrity ||
			p.Flags != q.Flags || !slices.Equal(p.Dependencies, q.Dependencies) {
			return false
		}
	}
	return true
}
