package pgauth_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/auth/pgauth"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
	"github.com/jackc/pgx/v5"
)

type latencies []time.Duration

func (l latencies) report(b *testing.B, name string) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	b.ReportMetric(float64(l[len(l)/2].Microseconds()), name+"-p50-us")
	b.ReportMetric(float64(l[min(len(l)-1, len(l)*99/100)].Microseconds()), name+"-p99-us")
}

func needPG(b *testing.B) string {
	if os.Getenv(pgtemp.Env) == "" {
		b.Skip("needs PostgreSQL ($" + pgtemp.Env + "; " + pgtemp.Install + ")")
	}
	return pgtemp.New(b)
}

// waitFor spins (yielding) until cond holds; the bound only stops a
// broken store from hanging the benchmark.
func waitFor(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("change not seen within 10s")
		}
		runtime.Gosched()
	}
}

// BenchmarkPropagation measures what the issue asks of revocation: a
// token revoked (revoke) or a user demoted (demote) through replica A is
// refused by replica B, which holds the token in its verified-token
// cache. Reported: the write on A (w-p50/p99), after it returns the time
// until B refuses (seen-p50/p99), and from the start of the write until
// B refuses (total-p50/p99). Floors in the same run: a bare
// NOTIFY from one connection to a LISTENing one (notify), and SELECT 1
// (select1).
//
//	.ci/services -- go test -run '^$' -bench Propagation -benchtime 300x ./impl/auth/pgauth/
func BenchmarkPropagation(b *testing.B) {
	url := needPG(b)
	ctx := context.Background()
	ka := &auth.KeySet{}
	ka.SetSigner(key(1))
	kb := &auth.KeySet{}
	kb.SetSigner(key(2))
	a := open(b, url, pgauth.Options{Keys: ka, Replica: "a"})
	bb := open(b, url, pgauth.Options{Keys: kb, Replica: "b"})
	waitFor(b, func() bool { return len(kb.IDs()) == 2 })
	is := &auth.Issuer{Keys: ka}
	vb := &auth.Verifier{Keys: kb, Revocations: bb.Revocations}

	revoke := func(b *testing.B) {
		var write, seen, total latencies
		for b.Loop() {
			tok, c, err := is.Issue("alice", auth.RolePublish, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := vb.Verify(tok, time.Now()); err != nil { // cached on B
				b.Fatal(err)
			}
			t0 := time.Now()
			if err := a.Revocations.Revoke(time.Now(), auth.Revocation{ID: c.ID, Expires: c.ExpiresAt}); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			waitFor(b, func() bool { _, err := vb.Verify(tok, time.Now()); return errors.Is(err, auth.ErrRevoked) })
			t2 := time.Now()
			write, seen, total = append(write, t1.Sub(t0)), append(seen, t2.Sub(t1)), append(total, t2.Sub(t0))
		}
		write.report(b, "w")
		seen.report(b, "seen")
		total.report(b, "total")
	}
	b.Run("revoke", revoke)
	// Each replica reloads the whole revocation table on a change: the
	// same with 10,000 revocations already stored.
	b.Run("revoke/stored=10000", func(b *testing.B) {
		revs := make([]auth.Revocation, 10_000)
		for i := range revs {
			revs[i] = auth.Revocation{ID: fmt.Sprintf("old-%d", i), Expires: time.Now().Add(24 * time.Hour)}
		}
		if err := a.Revocations.Revoke(time.Now(), revs...); err != nil {
			b.Fatal(err)
		}
		waitFor(b, func() bool { return bb.Revocations.Snapshot().Len() >= 10_000 })
		revoke(b)
	})

	b.Run("demote", func(b *testing.B) {
		if err := a.Users.Add("dora", "pw-dora-secret", auth.RolePublish, time.Now()); err != nil {
			b.Fatal(err)
		}
		waitFor(b, func() bool { _, ok := bb.Users.Get("dora", time.Now()); return ok })
		var write, seen, total latencies
		role := auth.RolePublish
		for b.Loop() {
			if role == auth.RolePublish {
				role = auth.RoleRead
			} else {
				role = auth.RolePublish
			}
			t0 := time.Now()
			if err := a.Users.SetRole("dora", role); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			waitFor(b, func() bool { u, _ := bb.Users.Get("dora", time.Now()); return u.Role == role })
			t2 := time.Now()
			write, seen, total = append(write, t1.Sub(t0)), append(seen, t2.Sub(t1)), append(total, t2.Sub(t0))
		}
		write.report(b, "w")
		seen.report(b, "seen")
		total.report(b, "total")
	})

	b.Run("floor", func(b *testing.B) {
		l, err := pgx.Connect(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close(ctx)
		n, err := pgx.Connect(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		defer n.Close(ctx)
		if _, err := l.Exec(ctx, "LISTEN bench_floor"); err != nil {
			b.Fatal(err)
		}
		var notify, select1 latencies
		i := 0
		for b.Loop() {
			i++
			t0 := time.Now()
			if _, err := n.Exec(ctx, "SELECT pg_notify('bench_floor', $1)", fmt.Sprint(i)); err != nil {
				b.Fatal(err)
			}
			if _, err := l.WaitForNotification(ctx); err != nil {
				b.Fatal(err)
			}
			notify = append(notify, time.Since(t0))
			t0 = time.Now()
			var one int
			if err := n.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
				b.Fatal(err)
			}
			select1 = append(select1, time.Since(t0))
		}
		notify.report(b, "notify")
		select1.report(b, "select1")
	})
}

// BenchmarkVerifyCached is auth.Verifier's cached hit with pgauth's
// revocations, beside the file-backed ones as the peer: both must be
// allocation-free and cost the same.
func BenchmarkVerifyCached(b *testing.B) {
	url := needPG(b)
	s := open(b, url, pgauth.Options{})
	keys := &auth.KeySet{}
	keys.SetSigner(key(1))
	tok, _, err := (&auth.Issuer{Keys: keys}).Issue("alice", auth.RolePublish, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		revs auth.RevocationStore
	}{{"pgauth", s.Revocations}, {"file", &auth.Revocations{}}} {
		v := &auth.Verifier{Keys: keys, Revocations: c.revs}
		now := time.Now()
		if _, err := v.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
