package main

// The shared auth store: `bun13 user|token|scope|key ... --database URL`
// (or BUN13_REGISTRY_DATABASE) manage the users, tokens, scopes and
// signing keys that every replica of a PostgreSQL-backed registry shares
// (package auth/pgauth) instead of a data directory's files. Changes
// reach every running replica through NOTIFY.

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/auth/pgauth"
	"github.com/bun13/bun13/impl/registry"
)

// envDatabase names the auth database when --database is not given.
const envDatabase = "BUN13_REGISTRY_DATABASE"

func (e *env) databaseFlag(fs interface {
	StringVar(*string, string, string, string)
}) *string {
	var db string
	fs.StringVar(&db, "database", e.envDefault(envDatabase, ""),
		"PostgreSQL URL of the auth store shared by the registry's replicas (instead of the files in --data); env "+envDatabase)
	return &db
}

// cliReplica names the CLI in key registrations.
func cliReplica() string {
	host, _ := os.Hostname()
	return "bun13-cli@" + host + ":" + strconv.Itoa(os.Getpid())
}

// openAuth opens the files of paths, or the database db when set. With
// a database, the signing key (--key-file, default DATA/signing.key) is
// loaded, and registered, only when sign is set, so managing users never
// adds a key to the shared set. registry serve opens its auth the same
// way (sign set, o with its logger and replica name):
//
//	au, err := e.openAuth(paths, *database, *ttl, true, pgauth.Options{Logger: log, Replica: id})
//	defer au.Close()
//	err = e.ensureAdmin(au) // exactly one replica creates the admin
func (e *env) openAuth(paths *dataPaths, db string, ttl time.Duration, sign bool, o pgauth.Options) (*registry.Auth, error) {
	if db == "" {
		return paths.auth(ttl)
	}
	keyFile := ""
	if sign {
		keyFile = paths.keyFile
		if keyFile == "" {
			keyFile = filepath.Join(paths.data, auth.KeyFile)
		}
	}
	ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
	defer cancel()
	return registry.OpenAuthDB(ctx, db, keyFile, ttl, o)
}

// cliOptions are the store options of a CLI run: no backstop (a run is
// short, its reads are the snapshot Open loaded, and its own writes
// update it).
func cliOptions() pgauth.Options { return pgauth.Options{Replica: cliReplica(), Interval: -1} }

func init() { commands["key"] = (*env).keyCmd }

// bun13 key: the signing keys.
//
//	bun13 key list [--database URL] [--data DIR] [--key-file F]
//	bun13 key retire KID [--force] --database URL
func (e *env) keyCmd(args []string) error {
	if len(args) == 0 {
		return usagef("key: want a subcommand: list, retire")
	}
	sub := args[0]
	fs := newFlags("key " + sub)
	paths := e.dataFlags(fs)
	db := e.databaseFlag(fs)
	force := fs.Bool("force", false, "key retire: retire the key even though a live replica signs with it")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		if len(pos) != 0 {
			return usagef("key list: no arguments")
		}
		if *db == "" {
			// A single node: its key file is its key set.
			path := paths.keyFile
			if path == "" {
				path = filepath.Join(paths.data, auth.KeyFile)
			}
			priv, err := auth.LoadKeyFile(path)
			if err != nil {
				return err
			}
			created := "-"
			if fi, err := os.Stat(path); err == nil {
				created = fi.ModTime().UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(e.stdout, "%s\t%s\t-\tfile %s\n", auth.KeyID(priv.Public().(ed25519.PublicKey)), created, path)
			return nil
		}
		st, err := e.openKeys(*db)
		if err != nil {
			return err
		}
		defer st.Close()
		keys, err := st.Keys(e.ctx)
		if err != nil {
			return err
		}
		for _, k := range keys {
			retired := "-"
			if !k.Retired.IsZero() {
				retired = k.Retired.Format(time.RFC3339)
			}
			where := ""
			for i, r := range k.Replicas {
				if i > 0 {
					where += ","
				}
				state := "seen " + r.LastSeen.Format(time.RFC3339)
				if r.Live {
					state = "live"
				}
				where += r.Name + " (" + state + ")"
			}
			if where == "" {
				where = "-"
			}
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\n", k.KID, k.Created.Format(time.RFC3339), retired, where)
		}
	case "retire":
		if len(pos) != 1 {
			return usagef("key retire: want one KID")
		}
		if *db == "" {
			return usagef("key retire: needs --database URL (or %s): a single node's key is its key file; to rotate it, replace the file and restart", envDatabase)
		}
		st, err := e.openKeys(*db)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.RetireKey(e.ctx, pos[0], *force); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "retired key %s: every replica now refuses the tokens it signed\n", pos[0])
	default:
		return usagef("key: unknown subcommand %q", sub)
	}
	return nil
}

func (e *env) openKeys(db string) (*pgauth.Store, error) {
	ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
	defer cancel()
	return pgauth.Open(ctx, db, pgauth.Options{Interval: -1})
}
