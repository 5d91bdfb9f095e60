package tarball

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"errors"
	"strings"
	"testing"
)

func build(t *testing.T, entries map[string]string, order ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, n := range order {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(entries[n]))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(entries[n]))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestInspect(t *testing.T) {
	tgz := build(t, map[string]string{"package/package.json": "\xef\xbb\xbf{\"name\":\"a\"}", "package/bin/x.js": "1"}, "package/package.json", "package/bin/x.js")
	info, err := Inspect(bytes.NewReader(tgz), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Root != "package" || string(info.Manifest) != `{"name":"a"}` || info.Entries != 2 || !info.Has("bin/x.js") || info.Unpacked != 16 {
		t.Errorf("info = %+v", info)
	}
}

func TestInspectBounds(t *testing.T) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "package/package.json", Mode: 0o644, Size: 2})
	tw.Write([]byte("{}"))
	const big = 32 << 20 // 32 MiB of zeros: about 32 KiB compressed
	tw.WriteHeader(&tar.Header{Name: "package/zeros", Mode: 0o644, Size: big})
	zero := make([]byte, 1<<20)
	for range big >> 20 {
		tw.Write(zero)
	}
	tw.Close()
	zw.Close()
	cr := &counting{r: bytes.NewReader(buf.Bytes())}
	_, err := Inspect(cr, Limits{MaxUnpacked: 1 << 20})
	if !errors.Is(err, ErrTooLarge) && !strings.Contains(err.Error(), "over") {
		t.Fatalf("bomb: %v", err)
	}
	// The reader stopped early: the compressed bytes read stay near the
	// bound's share of the stream, not the whole bomb.
	if cr.n > int64(buf.Len())/4 {
		t.Errorf("read %d of %d compressed bytes for a 1 MiB bound", cr.n, buf.Len())
	}

	many := map[string]string{"package/package.json": "{}"}
	order := []string{"package/package.json"}
	for i := range 30 {
		n := "package/f" + strings.Repeat("x", i)
		many[n] = ""
		order = append(order, n)
	}
	if _, err := Inspect(bytes.NewReader(build(t, many, order...)), Limits{MaxEntries: 10}); err == nil || !strings.Contains(err.Error(), "entries") {
		t.Errorf("entries: %v", err)
	}
	huge := map[string]string{"package/package.json": `{"x":"` + strings.Repeat("a", 2000) + `"}`}
	if _, err := Inspect(bytes.NewReader(build(t, huge, "package/package.json")), Limits{MaxManifest: 1000}); err == nil || !strings.Contains(err.Error(), "package.json is") {
		t.Errorf("manifest size: %v", err)
	}
}

type counting struct {
	r interface{ Read([]byte) (int, error) }
	n int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// FuzzInspect: Inspect never panics, and what it accepts keeps its
// bounds and npm's layout rule.
func FuzzInspect(f *testing.F) {
	f.Add(build(&testing.T{}, map[string]string{"package/package.json": `{"name":"a"}`}, "package/package.json"))
	f.Add(build(&testing.T{}, map[string]string{"x/package.json": `{}`, "x/a/b.js": "1", "y/package.json": "{}"}, "x/package.json", "x/a/b.js", "y/package.json"))
	f.Add(build(&testing.T{}, map[string]string{"package/./package.json": `{}`, "package/package.json": "{}"}, "package/./package.json", "package/package.json"))
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"))
	f.Add([]byte("not a tarball"))
	lim := Limits{MaxUnpacked: 1 << 20, MaxEntries: 64, MaxManifest: 4096}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Inspect(bytes.NewReader(b), lim)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *tarball.Error", err)
			}
			return
		}
		if info.Root == "" || strings.Contains(info.Root, "/") || info.Root == ".." || info.Root == "." {
			t.Fatalf("root %q", info.Root)
		}
		if int64(len(info.Manifest)) > lim.MaxManifest || info.Entries > lim.MaxEntries || info.Unpacked > lim.MaxUnpacked {
			t.Fatalf("bounds: %+v", info)
		}
		for _, p := range info.Files {
			if strings.HasPrefix(p, "/") || strings.Contains("/"+p+"/", "/../") {
				t.Fatalf("file %q", p)
			}
		}
	})
}

func BenchmarkInspect(b *testing.B) {
	t := &testing.T{}
	files := map[string]string{"package/package.json": `{"name":"bench","version":"1.0.0","scripts":{"postinstall":"node x"}}`}
	order := []string{"package/package.json"}
	for i := range 8 {
		n := "package/lib/f" + strings.Repeat("x", i) + ".js"
		files[n] = strings.Repeat("module.exports = 1;\n", 50)
		order = append(order, n)
	}
	tgz := build(t, files, order...)
	b.Run("inspect", func(b *testing.B) {
		b.SetBytes(int64(len(tgz)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Inspect(bytes.NewReader(tgz), Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The floor every publish already pays: the integrity hash.
	b.Run("sha512-floor", func(b *testing.B) {
		b.SetBytes(int64(len(tgz)))
		b.ReportAllocs()
		for b.Loop() {
			sha512.Sum512(tgz)
		}
	})
}
