package confighistory

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/config"
)

func rows(n uint8) config.Config { c := config.Default(); c.Rows = n; return c }

func TestAppendRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bun.lockb.history")
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	prev := config.Default()
	if _, err := Append(p, at, "cli", &prev, rows(30)); err != nil {
		t.Fatal(err)
	}
	if _, err := Append(p, at.Add(time.Second), "api", nil, rows(31)); err != nil {
		t.Fatal(err)
	}
	recs, torn, err := Read(p)
	if err != nil || torn != nil {
		t.Fatalf("%v %v", torn, err)
	}
	want := []struct {
		src  string
		rows uint8
	}{{"initial", 24}, {"cli", 30}, {"api", 31}}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		r := recs[i]
		if r.N != i+1 || r.Source != w.src || r.Config.Rows != w.rows || !r.Valid {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	if !recs[2].Time.Equal(at.Add(time.Second)) {
		t.Errorf("time %v", recs[2].Time)
	}
	if st, _ := os.Stat(p); st.Size() != HeaderSize+3*RecordSize {
		t.Errorf("size %d", st.Size())
	}
}

// A torn tail (a writer killed mid-append, or a flipped bit) is dropped
// and reported, never trusted, and the next append cuts it off.
func TestTornTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "h")
	for i := range 3 {
		if _, err := Append(p, time.Now(), "cli", nil, rows(uint8(40+i))); err != nil {
			t.Fatal(err)
		}
	}
	good, _ := os.ReadFile(p)
	for _, tc := range []struct {
		name string
		b    []byte
		keep int
	}{
		{"short record", good[:len(good)-5], 2},
		{"flipped bit in the last", flip(good, len(good)-RecordSize+10), 2},
		{"flipped bit in the first", flip(good, HeaderSize+3), 0},
		{"nonzero reserved", flip(good, HeaderSize+RecordSize+22), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(p, tc.b, 0o644)
			recs, torn, err := Read(p)
			if err != nil || torn == nil || len(recs) != tc.keep {
				t.Fatalf("%d records, torn %v, err %v", len(recs), torn, err)
			}
			if torn.Offset != int64(HeaderSize+RecordSize*tc.keep) {
				t.Errorf("torn at %d", torn.Offset)
			}
			if _, err := Append(p, time.Now(), "rollback", nil, rows(99)); err != nil {
				t.Fatal(err)
			}
			recs, torn, _ = Read(p)
			if torn != nil || len(recs) != tc.keep+1 || recs[tc.keep].Config.Rows != 99 {
				t.Errorf("after append: %d records, torn %v", len(recs), torn)
			}
		})
	}
	os.WriteFile(p, []byte("not a history file at all"), 0o644)
	if _, _, err := Read(p); err == nil {
		t.Error("garbage read as a history")
	}
	if _, err := Append(p, time.Now(), "cli", nil, rows(1)); err == nil {
		t.Error("appended to garbage")
	}
}

func flip(b []byte, at int) []byte {
	c := bytes.Clone(b)
	c[at] ^= 1
	return c
}

func TestBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "h")
	for i := range MaxRecords + 50 {
		if _, err := Append(p, time.Now(), "cli", nil, rows(uint8(i%250+1))); err != nil {
			t.Fatal(err)
		}
	}
	recs, torn, err := Read(p)
	if err != nil || torn != nil || len(recs) > MaxRecords || len(recs) < Keep {
		t.Fatalf("%d records (%v %v)", len(recs), torn, err)
	}
	if last := recs[len(recs)-1].Config.Rows; last != uint8((MaxRecords+49)%250+1) {
		t.Errorf("newest record rows %d", last)
	}
}

func TestMissing(t *testing.T) {
	recs, torn, err := Read(filepath.Join(t.TempDir(), "none"))
	if recs != nil || torn != nil || err != nil {
		t.Errorf("%v %v %v", recs, torn, err)
	}
}
