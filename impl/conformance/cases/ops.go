package cases

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// OpKind is a kind of random mutation of a lockfile's bytes.
type OpKind uint8

// The mutation kinds of `conformance fuzz` and of the random cases of `run`.
const (
	OpFlipBit       OpKind = iota // flip bit B of byte A
	OpSetByte                     // byte A := an edge value
	OpConfigField                 // a config field := an edge value (valid or not)
	OpSetWord                     // a u32 of the layout or of a record := an edge value
	OpTruncate                    // keep A bytes
	OpAppend                      // append 1..16 bytes
	OpSwapRecords                 // swap records A and B
	OpRewriteString               // point a record's field at an edge string
	OpSetDep                      // a dependency index := an edge value
	OpReserved                    // a reserved byte of the header or a record := non-zero
	OpConfigPair                  // two config fields := invalid edge values
	OpReverseDeps                 // reverse a record's dependency indices
	OpCatalog                     // one of the fixed mutations of run, aimed at this file
	numOps
)

var opNames = [...]string{"flip-bit", "set-byte", "config-field", "set-word", "truncate", "append", "swap-records", "rewrite-string", "set-dep", "reserved", "config-pair", "reverse-deps", "catalog"}

// opWeights favour the ops that reach the SPEC's checks behind the
// checksums over blind byte changes.
var opWeights = [numOps]int{
	OpFlipBit: 4, OpSetByte: 4, OpConfigField: 14, OpSetWord: 10, OpTruncate: 3, OpAppend: 4, OpSwapRecords: 4,
	OpRewriteString: 14, OpSetDep: 6, OpReserved: 4, OpConfigPair: 12, OpReverseDeps: 5, OpCatalog: 20,
}

func randKind(r *rand.Rand) OpKind {
	total := 0
	for _, w := range opWeights {
		total += w
	}
	n := r.IntN(total)
	for k, w := range opWeights {
		if n < w {
			return OpKind(k)
		}
		n -= w
	}
	return OpFlipBit
}

// Op is one mutation. A, B and C are raw random numbers, reduced modulo
// what they index when the op is applied, so that an op still applies
// (to something nearby) after the base file has been shrunk.
type Op struct {
	Kind    OpKind
	A, B, C uint32
}

func (o Op) String() string { return fmt.Sprintf("%s(%d,%d,%d)", opNames[o.Kind], o.A, o.B, o.C) }

// Mutation is a list of ops applied to a base file, then the checksums
// fixed up or not.
type Mutation struct {
	Ops          []Op
	ResealHeader bool
	FixBody      bool
}

func (m Mutation) String() string {
	var ops []string
	for _, o := range m.Ops {
		ops = append(ops, o.String())
	}
	return fmt.Sprintf("ops [%s] reseal-header=%v fix-body=%v", strings.Join(ops, " "), m.ResealHeader, m.FixBody)
}

// RandMutation draws 1 to 3 ops; the checksums are fixed up most of the
// time, so that the checks behind them are reached.
func RandMutation(r *rand.Rand) Mutation {
	m := Mutation{ResealHeader: r.IntN(5) != 0, FixBody: r.IntN(5) != 0}
	n := 1
	if k := r.IntN(10); k >= 6 {
		n = 2 + k/9
	}
	for range n {
		m.Ops = append(m.Ops, Op{Kind: randKind(r), A: r.Uint32(), B: r.Uint32(), C: r.Uint32()})
	}
	return m
}

// Apply returns a mutated copy of base.
func (m Mutation) Apply(base []byte) []byte {
	b, _ := m.Explain(base)
	return b
}

// Explain is Apply, and says what each op did to this base: for a
// catalog op, the fixed mutation it chose.
func (m Mutation) Explain(base []byte) ([]byte, string) {
	b := append([]byte(nil), base...)
	var notes []string
	for _, o := range m.Ops {
		var note string
		b, note = o.apply(b)
		notes = append(notes, note)
	}
	if m.ResealHeader {
		b = ResealHeader(b)
	}
	if m.FixBody {
		b = FixBody(b)
	}
	return b, fmt.Sprintf("[%s] reseal-header=%v fix-body=%v", strings.Join(notes, " "), m.ResealHeader, m.FixBody)
}

var (
	byteEdges  = []byte{0, 1, 2, 3, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0xfe, 0xff}
	configOffs = []int{OffVersion, OffRegistryHash, OffFeatureFlags, OffTerminalMode, OffRows, OffCols, OffConfigRes}
	configVals = [][]uint32{
		{0, 1, 2, 3, 255},
		{0, 1, 0xffffffff, 0x5e9b6bd5},
		{0, 1, 0xff, 0x100, 0x200, 0x3ff, 0x400, 0x80000000, 0xffffffff},
		{0, 1, 2, 3, 0xff},
		{0, 1, 24, 255},
		{0, 1, 80, 255},
		{0, 1, 0xff},
	}
	// badConfig are invalid values per config field (version, hash,
	// flags, mode, rows, cols, reserved).
	badConfig = [][]uint32{{3, 255}, {0}, {0x400, 0xffffffff}, {3, 0xff}, {0}, {0}, {1, 0xff}}
	// edgeStrings per field: valid edges and invalid near-misses.
	edgeStrings = [4][]string{
		{"a", strings.Repeat("n", 214), strings.Repeat("n", 215), "@s/" + strings.Repeat("p", 211), "@s/" + strings.Repeat("p", 212), "", ".a", "_a", "a b", "@s", "@s/", "@/p", "A", "~!*'()", "1.0.0", "caf\u00e9", "\xff"},
		{"0.0.0", "1.0.0-" + strings.Repeat("a", 250), "1.0.0-" + strings.Repeat("a", 251), "1.0.0-0a", "1.0.0-01", "1.0.0+01", "1.0", "", "01.0.0", "1.0.0-", "1.0.0+"},
		{"http://a", "https://r/" + strings.Repeat("~", 2038), "https://r/" + strings.Repeat("~", 2039), "https://a b", "https://a\x7f", "http:/a", "ftp://a", "", "https://\u00e9"},
		{"sha1-AAECAwQFBgcICQoLDA0ODxAREhM=", nonCanonicalSHA1, "sha256-" + strings.Repeat("A", 43) + "=", "sha256-" + strings.Repeat("A", 44), "sha384-" + strings.Repeat("A", 64), "sha384-" + strings.Repeat("A", 63) + "=", "sha512-" + strings.Repeat("A", 86) + "==", "sha512-" + strings.Repeat("A", 87) + "=", "md5-AAAA", ""},
	}
	fieldOffs = [4]int{RecName, RecVersion, RecResolved, RecIntegrity}
)

func (o Op) apply(b []byte) ([]byte, string) {
	note := opNames[o.Kind]
	out := o.applyNote(b, &note)
	return out, note
}

func (o Op) applyNote(b []byte, note *string) []byte {
	if len(b) == 0 && o.Kind != OpAppend {
		return b
	}
	l := LayoutOf(b)
	count := l.Count
	if !l.OK || count > (len(b)-HeaderSize)/RecordSize {
		count = 0
	}
	switch o.Kind {
	case OpFlipBit:
		b[int(o.A)%len(b)] ^= 1 << (o.B % 8)
	case OpSetByte:
		b[int(o.A)%len(b)] = byteEdges[o.B%uint32(len(byteEdges))]
	case OpConfigField:
		k := int(o.A) % len(configOffs)
		v := configVals[k][o.B%uint32(len(configVals[k]))]
		off := configOffs[k]
		if off == OffRegistryHash || off == OffFeatureFlags {
			PutU32(b, off, v)
		} else if off < len(b) {
			b[off] = byte(v)
		}
	case OpSetWord:
		var off int
		words := 3 + 16*count // packageCount, depCount, strBytes, then 16 per record
		switch w := int(o.A) % words; w {
		case 0:
			off = OffPackageCount
		case 1:
			off = l.DepOff
		case 2:
			off = l.StrOff
		default:
			off = Rec((w-3)/16) + 4*((w-3)%16)
		}
		if off == 0 {
			return b
		}
		cur := U32(b, off)
		vals := []uint32{0, 1, cur + 1, cur - 1, cur ^ 1<<(o.C%32), 0xffffffff, 0x7fffffff, uint32(l.StrEnd - l.StrStart), uint32(l.DepCount), uint32(count)}
		PutU32(b, off, vals[o.B%uint32(len(vals))])
	case OpTruncate:
		return b[:int(o.A)%len(b)]
	case OpAppend:
		for range 1 + o.A%16 {
			b = append(b, byte(o.B))
		}
	case OpSwapRecords:
		if count >= 2 {
			return SwapRecords(b, int(o.A)%count, int(o.B)%count)
		}
	case OpRewriteString:
		if count > 0 {
			f := int(o.B) % 4
			ss := edgeStrings[f]
			return SetString(b, int(o.A)%count, fieldOffs[f], ss[o.C%uint32(len(ss))])
		}
	case OpSetDep:
		if l.OK && l.DepCount > 0 {
			e := int(o.A) % l.DepCount
			cur := U32(b, l.DepOff+4+4*e)
			vals := []uint32{0, uint32(count), uint32(count - 1), cur + 1, cur - 1, 0xffffffff}
			PutU32(b, l.DepOff+4+4*e, vals[o.B%uint32(len(vals))])
		}
	case OpConfigPair:
		if len(b) < HeaderSize {
			return b
		}
		// Two neighbours in the validation order: the first must win.
		k1 := int(o.A) % (len(configOffs) - 1)
		for _, k := range []int{k1, k1 + 1} {
			bad := badConfig[k]
			v := bad[o.B%uint32(len(bad))]
			if off := configOffs[k]; off == OffRegistryHash || off == OffFeatureFlags {
				PutU32(b, off, v)
			} else {
				b[off] = byte(v)
			}
		}
	case OpReverseDeps:
		if l.OK && count > 0 {
			i := int(o.A) % count
			first, n := int(U32(b, Rec(i)+RecDeps)), int(U32(b, Rec(i)+RecDepsCount))
			if n >= 2 && first+n <= l.DepCount {
				for x, y := first, first+n-1; x < y; x, y = x+1, y-1 {
					px, py := l.DepOff+4+4*x, l.DepOff+4+4*y
					vx, vy := U32(b, px), U32(b, py)
					PutU32(b, px, vy)
					PutU32(b, py, vx)
				}
			}
		}
	case OpCatalog:
		// The group and the index within it do not depend on the number
		// of records, so that shrinking the base keeps the same mutation.
		if len(b) < HeaderSize {
			return b
		}
		var ms []mutation
		switch o.C % 4 {
		case 0:
			ms = headerMutations()
		case 1:
			if l.OK && l.StrEnd == len(b) {
				ms = bodyMutations(l, len(b))
			}
		case 2:
			if l.OK && l.StrEnd == len(b) && count > 0 {
				ms = recordMutations(int(o.B)%count, count)
			}
		case 3:
			if l.OK && l.StrEnd == len(b) && count >= 2 {
				ms = orderMutations(count)
			}
		}
		if len(ms) == 0 {
			return b
		}
		m := ms[int(o.A)%len(ms)]
		*note = "catalog:" + m.name
		return m.f(b)
	case OpReserved:
		if count > 0 && o.C%2 == 0 {
			i := int(o.A) % count
			b[Rec(i)+RecReserved+int(o.B)%20] = byte(1 + o.C%255)
		} else if len(b) >= HeaderSize {
			b[OffReserved+int(o.B)%27] = byte(1 + o.C%255)
		}
	}
	return b
}
