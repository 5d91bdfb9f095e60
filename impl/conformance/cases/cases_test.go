package cases

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/bun13/bun13/impl/lockfile"
)

func all() map[Area]bool {
	m, _ := ParseOnly("")
	return m
}

// Every fixed case reaches what it aims at: the reference's code and
// offset equal the intent. A mutation that stops reaching its check (say,
// because a checksum fix-up is missing) fails here.
func TestIntentsReached(t *testing.T) {
	cs, err := Generate(Options{Seed: 1, Count: 0, Areas: all()})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range cs {
		if names[c.Name] {
			t.Errorf("duplicate case name %s", c.Name)
		}
		names[c.Name] = true
		if c.Intent == nil {
			continue
		}
		got := Intent{Code: c.Want.Code, Offset: c.Want.Offset}
		if c.Area == FrameDecode || c.Area == HeadersValidate || c.Area == LockfileEncode {
			got.Offset = c.Intent.Offset
		}
		if got != *c.Intent {
			t.Errorf("%s: reference says %+v, the case aims at %+v", c.Name, got, *c.Intent)
		}
	}
	t.Logf("%d fixed cases", len(cs))
}

// The fixed lockfile cases reach every code and offset of section 3's
// validation table.
func TestEveryCodeAndOffsetReached(t *testing.T) {
	cs, err := Generate(Options{Seed: 1, Areas: map[Area]bool{LockfileDecode: true}})
	if err != nil {
		t.Fatal(err)
	}
	reached := map[string]bool{}
	for _, c := range cs {
		off := c.Want.Offset
		if c.Want.Code == "package" && off >= Rec(0) && off < Rec(3) {
			off = (off - Rec(0)) % RecordSize // record field, whichever record
			reached[fmt.Sprintf("package +0x%02x", off)] = true
			continue
		}
		reached[fmt.Sprintf("%s 0x%02x", c.Want.Code, off)] = true
	}
	base := MustEncode(Base3())
	l := LayoutOf(base)
	want := []string{
		"truncated 0x00", "bad-magic 0x00", "header-checksum 0x11", "unsupported-version 0x04", "registry-hash 0x05",
		"unknown-feature 0x09", "terminal-mode 0x0d", "terminal-size 0x0e", "terminal-size 0x0f", "reserved 0x10",
		"reserved 0x1d", "body-checksum 0x38", "package +0x00", // record 0 start: name or order
		fmt.Sprintf("package 0x%02x", l.DepOff), fmt.Sprintf("package 0x%02x", l.StrOff),
		fmt.Sprintf("trailing-data 0x%02x", len(base)),
		"package +0x08", "package +0x10", "package +0x18", "package +0x20", "package +0x28", "package +0x2c",
	}
	for _, w := range want {
		if !reached[w] {
			t.Errorf("no case reaches %s", w)
		}
	}
}

// The same seed gives the same cases; another seed other random cases.
func TestSeeded(t *testing.T) {
	gen := func(seed uint64) []Case {
		cs, err := Generate(Options{Seed: seed, Count: 20, Areas: all()})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	a, b, c := gen(7), gen(7), gen(8)
	if len(a) != len(b) {
		t.Fatalf("%d and %d cases", len(a), len(b))
	}
	same := true
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Input, b[i].Input) || fmt.Sprint(a[i].Args) != fmt.Sprint(b[i].Args) {
			t.Fatalf("case %d differs between two runs of seed 7: %s", i, a[i].Name)
		}
		if i < len(c) && (!bytes.Equal(a[i].Input, c[i].Input) || fmt.Sprint(a[i].Args) != fmt.Sprint(c[i].Args)) {
			same = false
		}
	}
	if same {
		t.Error("seeds 7 and 8 give the same cases")
	}
}

// The vectors decode to their JSON forms (the kit's reference answers
// agree with the SPEC's own vectors).
func TestVectorsAgree(t *testing.T) {
	vs, forms, err := Vectors()
	if err != nil {
		t.Fatal(err)
	}
	if len(forms) < 3 || len(vs) < 15 {
		t.Fatalf("%d vectors, %d JSON forms", len(vs), len(forms))
	}
	for _, v := range vs {
		w := RefDecode(v.Data)
		if v.Manifest != nil {
			if w.Code != v.Manifest.Code || w.Offset != v.Manifest.Offset {
				t.Errorf("%s: reference %s at %d, manifest %+v", v.Name, w.Code, w.Offset, *v.Manifest)
			}
			continue
		}
		var a, b lockfile.Lockfile
		if err := json.Unmarshal(w.JSON, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(forms[v.Name], &b); err != nil {
			t.Fatal(err)
		}
		if !lockfile.Equal(&a, &b) {
			t.Errorf("%s: decodes to something else than its JSON form", v.Name)
		}
	}
}

// Random mutations never panic the reference and yield coded errors.
func TestRandomCasesCoded(t *testing.T) {
	cs, err := Generate(Options{Seed: 3, Count: 100, Areas: all()})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Want.Exit == 1 && c.Want.Code == "" {
			t.Errorf("%s: exit 1 without a code", c.Name)
		}
		if c.Want.Exit == 2 {
			t.Errorf("%s: the reference gives a usage error", c.Name)
		}
	}
}
