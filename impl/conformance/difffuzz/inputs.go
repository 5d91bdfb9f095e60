package difffuzz

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/conformance/cases"
	"github.com/bun13/bun13/impl/frame"
	"github.com/bun13/bun13/impl/headers"
	"github.com/bun13/bun13/impl/lockfile"
)

// lockInput is a valid lockfile and a mutation of its bytes, checked by
// `lockfile decode` and `config validate --json`.
type lockInput struct {
	base *lockfile.Lockfile
	mut  cases.Mutation
}

func randLockInput(r *rand.Rand) input {
	var base *lockfile.Lockfile
	switch r.IntN(6) {
	case 0:
		base = cases.Base3()
	default:
		base = cases.RandLockfile(r, 1+r.IntN(6))
	}
	m := cases.RandMutation(r)
	if r.IntN(5) == 0 {
		m.Ops = nil // the valid file itself
	}
	return lockInput{base: base, mut: m}
}

func (l lockInput) bytes() []byte {
	b, err := lockfile.Encode(l.base)
	if err != nil {
		return nil
	}
	return l.mut.Apply(b)
}

func (l lockInput) cases(lookup func(string) (string, bool)) []cases.Case {
	b := l.bytes()
	return []cases.Case{
		{Name: "fuzz/lockfile-decode", Area: cases.LockfileDecode, Spec: "SPEC 3", Input: b, Want: cases.RefDecode(b)},
		{Name: "fuzz/config-validate", Area: cases.ConfigValidate, Spec: "SPEC 2, 3 and 7 (config validate --json)", Input: b, Want: cases.RefValidate(b, lookup)},
	}
}

func (l lockInput) size() int { return len(l.bytes()) }

func (l lockInput) String() string {
	b, err := lockfile.Encode(l.base)
	if err != nil {
		return "invalid base: " + err.Error()
	}
	out, what := l.mut.Explain(b)
	return fmt.Sprintf("%d-byte lockfile: %d packages, config %+v, then %s", len(out), len(l.base.Packages), l.base.Config, what)
}

func (l lockInput) simpler() []input {
	var out []input
	for k := range l.mut.Ops {
		m := l.mut
		m.Ops = append(append([]cases.Op(nil), m.Ops[:k]...), m.Ops[k+1:]...)
		out = append(out, lockInput{l.base, m})
	}
	for _, lf := range simplerLockfiles(l.base) {
		out = append(out, lockInput{lf, l.mut})
	}
	return out
}

// simplerLockfiles are lf with one package removed, or one package or the
// config made plainer; all still valid.
func simplerLockfiles(lf *lockfile.Lockfile) []*lockfile.Lockfile {
	var out []*lockfile.Lockfile
	clone := func() *lockfile.Lockfile {
		c := &lockfile.Lockfile{Config: lf.Config, Packages: make([]lockfile.Package, len(lf.Packages))}
		for i, p := range lf.Packages {
			p.Dependencies = append([]uint32(nil), p.Dependencies...)
			c.Packages[i] = p
		}
		return c
	}
	for k := len(lf.Packages) - 1; k >= 0; k-- {
		c := clone()
		c.Packages = append(c.Packages[:k], c.Packages[k+1:]...)
		for i := range c.Packages {
			var ds []uint32
			for _, d := range c.Packages[i].Dependencies {
				switch {
				case d < uint32(k):
					ds = append(ds, d)
				case d > uint32(k):
					ds = append(ds, d-1)
				}
			}
			c.Packages[i].Dependencies = ds
		}
		out = append(out, c)
	}
	if lf.Config != config.Default() {
		c := clone()
		c.Config = config.Default()
		out = append(out, c)
	}
	for k, p := range lf.Packages {
		plain := []func(*lockfile.Package){
			func(p *lockfile.Package) { p.Dependencies = nil },
			func(p *lockfile.Package) { p.Flags = 0 },
			func(p *lockfile.Package) { p.Resolved = "http://a" },
			func(p *lockfile.Package) { p.Integrity = "sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=" },
			func(p *lockfile.Package) { p.Version = "1.0.0" },
			func(p *lockfile.Package) { p.Name = fmt.Sprintf("p%d", k) },
		}
		for _, f := range plain {
			c := clone()
			f(&c.Packages[k])
			if fmt.Sprint(c.Packages[k]) == fmt.Sprint(p) {
				continue
			}
			if _, err := lockfile.Encode(c); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// encInput is encoder input: a valid lockfile's JSON form, its packages
// shuffled (and then without dependencies) when unsorted.
type encInput struct {
	lf       *lockfile.Lockfile
	unsorted bool
	perm     uint64 // shuffle seed
}

func randEncInput(r *rand.Rand) input {
	e := encInput{lf: cases.RandLockfile(r, r.IntN(8)), unsorted: r.IntN(4) == 0, perm: r.Uint64()}
	if e.unsorted {
		for i := range e.lf.Packages {
			e.lf.Packages[i].Dependencies = nil
		}
	}
	return e
}

func (e encInput) json() []byte {
	lf := &lockfile.Lockfile{Config: e.lf.Config, Packages: append([]lockfile.Package(nil), e.lf.Packages...)}
	if e.unsorted {
		r := rand.New(rand.NewPCG(e.perm, 0))
		r.Shuffle(len(lf.Packages), func(a, b int) { lf.Packages[a], lf.Packages[b] = lf.Packages[b], lf.Packages[a] })
	}
	j, _ := lf.JSON()
	return j
}

func (e encInput) cases(func(string) (string, bool)) []cases.Case {
	j := e.json()
	return []cases.Case{{Name: "fuzz/lockfile-encode", Area: cases.LockfileEncode, Spec: "SPEC 3: canonical writer", Input: j, Unsorted: e.unsorted, Want: cases.RefEncode(j)}}
}

func (e encInput) size() int { return len(e.json()) }

func (e encInput) String() string {
	return fmt.Sprintf("encoder input (unsorted %v): %s", e.unsorted, e.json())
}

func (e encInput) simpler() []input {
	var out []input
	for _, lf := range simplerLockfiles(e.lf) {
		out = append(out, encInput{lf, e.unsorted, e.perm})
	}
	return out
}

// frameInput is a frame's bytes.
type frameInput struct{ b []byte }

func (f frameInput) cases(func(string) (string, bool)) []cases.Case {
	return []cases.Case{{Name: "fuzz/frame-decode", Area: cases.FrameDecode, Spec: "SPEC 4", Input: f.b, Want: cases.RefFrame(f.b)}}
}

func (f frameInput) size() int { return len(f.b) }

func (f frameInput) String() string { return fmt.Sprintf("frame %x", f.b) }

// simpler zeroes one byte at a time, keeping the checksum as right or as
// wrong as it was; a frame of the wrong length is cut shorter.
func (f frameInput) simpler() []input {
	var out []input
	if len(f.b) != frame.Size {
		for n := 0; n < len(f.b); n++ {
			out = append(out, frameInput{f.b[:n:n]})
		}
		return out
	}
	delta := f.b[13] ^ frame.CRC8(f.b[:13])
	for i := 12; i >= 0; i-- {
		for _, v := range []byte{0, 1} {
			if f.b[i] <= v {
				continue
			}
			b := append([]byte(nil), f.b...)
			b[i] = v
			b[13] = frame.CRC8(b[:13]) ^ delta
			out = append(out, frameInput{b})
		}
	}
	if delta != 0 && delta != 1 {
		b := append([]byte(nil), f.b...)
		b[13] = frame.CRC8(b[:13]) ^ 1
		out = append(out, frameInput{b})
	}
	return out
}

// hdrInput is the arguments of `headers validate`.
type hdrInput struct{ args []string }

func (h hdrInput) cases(func(string) (string, bool)) []cases.Case {
	return []cases.Case{{Name: "fuzz/headers-validate", Area: cases.HeadersValidate, Spec: "SPEC 5", Args: h.args, Want: cases.RefHeaders(h.args)}}
}

func (h hdrInput) size() int { return len(h.args) }

func (h hdrInput) String() string { return fmt.Sprintf("headers %q", h.args) }

// simpler drops one header, or writes one with its canonical name, or
// its value without surrounding blanks.
func (h hdrInput) simpler() []input {
	var out []input
	with := func(k int, a string) input {
		args := append([]string(nil), h.args...)
		args[k] = a
		return hdrInput{args}
	}
	for k := range h.args {
		if len(h.args) > 1 {
			out = append(out, hdrInput{append(append([]string(nil), h.args[:k]...), h.args[k+1:]...)})
		}
	}
	for k, a := range h.args {
		name, value, _ := strings.Cut(a, ":")
		if canon, ok := headers.Canonical(strings.Trim(name, " \t")); ok && canon != name {
			out = append(out, with(k, canon+":"+value))
		}
		if t := strings.Trim(value, " \t"); " "+t != value {
			out = append(out, with(k, name+": "+t))
		}
	}
	return out
}
