package seedtesting

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestEncode(t *testing.T) {
	b, ok := Encode([]byte("ab"), "xyz")
	if !ok || !bytes.Equal(b, []byte("\x00\x00\x00\x02ab\x00\x00\x00\x03xyz")) {
		t.Fatalf("Encode = %q, %v", b, ok)
	}
	for _, args := range [][]any{{}, {[]byte{}}, {""}, {1}, {"a", []byte{}}} {
		if _, ok := Encode(args...); ok {
			t.Errorf("Encode(%v) ok", args)
		}
	}
}

func TestParseCorpusFile(t *testing.T) {
	args, err := ParseCorpusFile([]byte("go test fuzz v1\n[]byte(\"\\x00a\\\"\")\nstring(\"b\\tc\")\n"))
	if err != nil || len(args) != 2 || !bytes.Equal(args[0].([]byte), []byte("\x00a\"")) || args[1].(string) != "b\tc" {
		t.Fatalf("ParseCorpusFile = %q, %v", args, err)
	}
	for _, bad := range []string{"", "go test fuzz v2\n[]byte(\"a\")\n", "go test fuzz v1\nint(1)\n", "go test fuzz v1\n[]byte(\"a)\n"} {
		if _, err := ParseCorpusFile([]byte(bad)); err == nil {
			t.Errorf("ParseCorpusFile(%q) accepted", bad)
		}
	}
}

func TestExport(t *testing.T) {
	corpus := t.TempDir()
	if err := os.MkdirAll(filepath.Join(corpus, "FuzzX"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(corpus, "FuzzX", "c1"), []byte("go test fuzz v1\n[]byte(\"zz\")\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	counts, err := Export(out, corpus, map[string]func(*F){"FuzzX": func(f *F) {
		f.Add([]byte("seed"))
		f.Add([]byte{}) // cannot be expressed: left out
		f.Fuzz(func(*T, []byte) {})
	}})
	if err != nil || counts["FuzzX"] != 2 {
		t.Fatalf("Export = %v, %v", counts, err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "FuzzX", "*"))
	if len(files) != 2 {
		t.Fatalf("%d files", len(files))
	}
	if _, err := Export(out, corpus, map[string]func(*F){"FuzzY": func(f *F) { f.Fatalf("no seeds") }}); err == nil {
		t.Fatal("a target's Fatalf is not reported")
	}
}
