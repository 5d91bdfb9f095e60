package main

// bun13 registry migrate: copy a single-node registry into the stores of
// the distributed mode. bun13 registry sweep: delete tarballs no
// document refers to.

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/bun13/bun13/impl/auth/pgauth"
	"github.com/bun13/bun13/impl/registry"
	"github.com/bun13/bun13/impl/store/blobs"
	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/sweep"
	"github.com/bun13/bun13/impl/store/transfer"
)

// registryMigrate copies the packages (every version and tarball, each
// tarball checked against its recorded integrity), their search entries
// and the auth state of DATA_DIR into --database and --blobs. It is
// idempotent and resumable: what the destination has is skipped.
func (e *env) registryMigrate(args []string) error {
	fs := newFlags("registry migrate")
	from := fs.String("from", "", "data directory of the single-node registry (its packages/ and auth files)")
	sf := e.sharedFlagsOn(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("registry migrate: unexpected argument %q", pos[0])
	}
	if *from == "" {
		return usagef("registry migrate: --from DATA_DIR is required")
	}
	if err := sf.required("registry migrate"); err != nil {
		return err
	}
	pkgs := filepath.Join(*from, "packages")
	if !fileExists(pkgs) {
		return fmt.Errorf("registry migrate: %s: no packages directory (is --from a registry data directory?)", pkgs)
	}
	st, err := openShared(e.ctx, sf, e.logger())
	if err != nil {
		return err
	}
	defer st.Close()
	src := transfer.Stores{Docs: docs.NewFS(pkgs), Blobs: blobs.NewFS(pkgs)}
	dst := transfer.Stores{Docs: st.docs, Blobs: st.blobs}
	start := time.Now()
	last := start
	sum, err := transfer.Copy(e.ctx, src, dst, func(name string, s transfer.Summary) {
		if now := time.Now(); now.Sub(last) >= 2*time.Second {
			last = now
			fmt.Fprintf(e.stderr, "registry migrate: at %s: %s\n", name, s)
		}
	})
	if err != nil {
		return fmt.Errorf("registry migrate: %w (run it again to resume)", err)
	}
	fmt.Fprintf(e.stdout, "packages: %s in %s\n", sum, time.Since(start).Round(time.Millisecond))
	if err := e.migrateAuth(e.ctx, *from, sf); err != nil {
		return fmt.Errorf("registry migrate: %w (run it again to resume)", err)
	}
	if len(sum.Failed) > 0 {
		names := make([]string, 0, len(sum.Failed))
		for n := range sum.Failed {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			fmt.Fprintf(e.stderr, "not copied: %s: %s\n", n, sum.Failed[n])
		}
		return fmt.Errorf("registry migrate: %d packages not copied (fix them in %s and run it again)", len(sum.Failed), pkgs)
	}
	return nil
}

// registrySweep deletes the blobs no document refers to, in two passes
// --grace apart (see impl/store/sweep).
func (e *env) registrySweep(args []string) error {
	fs := newFlags("registry sweep")
	grace := fs.Duration("grace", sweep.DefaultGrace, "wait between finding orphaned tarballs and deleting those still orphaned (longer than any publish takes)")
	dry := fs.Bool("dry-run", false, "list the orphaned tarballs, delete nothing")
	sf := e.sharedFlagsOn(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("registry sweep: unexpected argument %q", pos[0])
	}
	if err := sf.required("registry sweep"); err != nil {
		return err
	}
	st, err := openShared(e.ctx, sf, e.logger())
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := sweep.Run(e.ctx, st.docs, st.blobs, sweep.Options{
		Grace:  *grace,
		DryRun: *dry,
		Waiting: func(d time.Duration) {
			fmt.Fprintf(e.stderr, "registry sweep: waiting %s before deleting what is still orphaned\n", d)
		},
	})
	for _, o := range res.Found {
		fmt.Fprintf(e.stdout, "orphan %s/%s\n", o.Name, o.File)
	}
	if err != nil {
		return fmt.Errorf("registry sweep: %w", err)
	}
	fmt.Fprintf(e.stdout, "%d packages, %d orphaned tarballs found, %d deleted, %d referenced again\n",
		res.Packages, len(res.Found), len(res.Deleted), res.StillUsed)
	return nil
}

// logger is the JSON logger of the one-shot registry commands (warnings
// of the stores) on stderr.
func (e *env) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// migrateAuth copies the users (bcrypt hashes as they are), token
// records, revocations and scopes of a data directory into the
// database, and registers its signing key, so tokens the single node
// issued keep working on every replica. Idempotent.
func (e *env) migrateAuth(ctx context.Context, from string, sf *sharedFlags) error {
	db, err := pgauth.Open(ctx, sf.database, cliOptions())
	if err != nil {
		return fmt.Errorf("--database: %w", err)
	}
	defer db.Close()
	sum, err := registry.ImportAuthFiles(ctx, registry.AuthPaths{Dir: from}, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "auth: %d users, %d tokens, %d revocations, %d scopes (%d members)", sum.Users, sum.Tokens, sum.Revocations, sum.Scopes, sum.Members)
	if sum.KeyID != "" {
		fmt.Fprintf(e.stdout, ", signing key %s registered", sum.KeyID)
	}
	fmt.Fprintln(e.stdout)
	return nil
}
