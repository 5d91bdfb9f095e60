package sweep_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/sweep"
)

// TestRun: only blobs orphaned at both passes go; a blob whose document
// starts referring to it between the passes (a publish in flight) stays,
// and so does every referenced one.
func TestRun(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "packages")
	d, b := docs.NewFS(dir), blobs.NewFS(dir)
	put := func(name, file string) {
		t.Helper()
		if err := b.Put(ctx, name, file, []byte(file)); err != nil {
			t.Fatal(err)
		}
	}
	doc := func(name, body string, rev docs.Rev) docs.Rev {
		t.Helper()
		r, err := d.Put(ctx, name, []byte(body), rev)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// a: 1.0.0 under its plain file, 1.1.0 content-addressed; a loser's
	// blob of 1.1.0 and a dead publish's blob of 2.0.0 are orphans.
	put("a", "a-1.0.0.tgz")
	put("a", "a-1.1.0+bun13-aaaa.tgz")
	put("a", "a-1.1.0+bun13-bbbb.tgz")
	put("a", "a-2.0.0+bun13-cccc.tgz")
	doc("a", `{"name":"a","versions":{"1.0.0":{},"1.1.0":{}},"blobs":{"1.1.0":"a-1.1.0+bun13-aaaa.tgz"}}`, "")
	// b: a publish in flight: its blob is there, its document comes
	// during the grace period.
	put("b", "b-1.0.0+bun13-dddd.tgz")
	brev := doc("b", `{"name":"b","versions":{}}`, "")

	sleep := func(ctx context.Context, _ time.Duration) error {
		doc("b", `{"name":"b","versions":{"1.0.0":{}},"blobs":{"1.0.0":"b-1.0.0+bun13-dddd.tgz"}}`, brev)
		return nil
	}
	res, err := sweep.Run(ctx, d, b, sweep.Options{Sleep: sleep})
	if err != nil {
		t.Fatal(err)
	}
	want := []sweep.Orphan{{"a", "a-1.1.0+bun13-bbbb.tgz"}, {"a", "a-2.0.0+bun13-cccc.tgz"}}
	if diff := cmp.Diff(want, res.Deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if res.StillUsed != 1 || len(res.Found) != 3 || res.Packages != 2 {
		t.Errorf("result %+v", res)
	}
	for name, want := range map[string][]string{
		"a": {"a-1.0.0.tgz", "a-1.1.0+bun13-aaaa.tgz"},
		"b": {"b-1.0.0+bun13-dddd.tgz"},
	} {
		got, err := b.List(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s left (-want +got):\n%s", name, diff)
		}
	}
	// A dry run finds and keeps.
	put("a", "a-3.0.0+bun13-eeee.tgz")
	res, err = sweep.Run(ctx, d, b, sweep.Options{DryRun: true})
	if err != nil || len(res.Found) != 1 || len(res.Deleted) != 0 {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if got, _ := b.List(ctx, "a"); len(got) != 3 {
		t.Fatalf("dry run deleted: %q", got)
	}
}
