package configwatch

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/lockfile"
)

// BenchmarkApplyLatency measures how long a change written to the
// lockfile by another writer (the read-modify-write `bun13 config set`
// does, under the lock, with fsync and rename) takes to become the live
// config of a process watching it: from the start of the write to the
// Store publishing it. It reports p50/p99 of that; as the floor in the
// same run, p50/p99 of the write alone (the watcher cannot apply a file
// before it is in place); and the watcher's own share, from the write's
// return to the publish (0 when it applied before the writer's last
// fsync returned).
//
//	go test -run '^$' -bench ApplyLatency -benchtime 500x ./impl/configwatch/
func BenchmarkApplyLatency(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bun.lockb")
	store, err := lockfile.OpenStore(path, true, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := Start(ctx, Options{Path: path, Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Poll: -1})
	if err != nil {
		b.Fatal(err)
	}
	changes, unsub := store.Subscribe(16)
	defer unsub()
	apply := make([]time.Duration, 0, b.N)
	write := make([]time.Duration, 0, b.N)
	after := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		rows := uint8(i%200 + 1)
		if rows == store.Load().Rows {
			rows++
		}
		t0 := time.Now()
		if _, err := lockfile.UpdateFrom(path, "cli", func(lf *lockfile.Lockfile) error { lf.Config.Rows = rows; return nil }); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for ch := range changes {
			if ch.New.Rows == rows {
				break
			}
		}
		t2 := time.Now()
		apply = append(apply, t2.Sub(t0))
		write = append(write, t1.Sub(t0))
		after = append(after, max(0, t2.Sub(t1)))
	}
	b.StopTimer()
	cancel()
	<-w.Done()
	q := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(apply, 0.50), "apply-p50-ms")
	b.ReportMetric(q(apply, 0.99), "apply-p99-ms")
	b.ReportMetric(q(write, 0.50), "write-p50-ms")
	b.ReportMetric(q(write, 0.99), "write-p99-ms")
	b.ReportMetric(q(after, 0.50), "after-write-p50-ms")
	b.ReportMetric(q(after, 0.99), "after-write-p99-ms")
}
