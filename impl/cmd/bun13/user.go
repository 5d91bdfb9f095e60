package main

// bun13 user: manage the registry's users file, also while the server runs
// (writes take the file's lock and replace it atomically; the server sees
// the change on its next login or within 100ms for tokens). With
// --database URL (or BUN13_REGISTRY_DATABASE) the users shared by every
// replica in PostgreSQL instead (see authdb.go).
//
//	bun13 user add NAME [--role read|publish|admin] [--data DIR]   password on stdin
//	bun13 user passwd NAME [--data DIR]                            password on stdin; revokes the user's tokens
//	bun13 user role NAME read|publish|admin [--data DIR]
//	bun13 user remove NAME [--data DIR]                            also revokes the user's tokens
//	bun13 user list [--data DIR]

import (
	"fmt"
	"time"

	"github.com/bun13/bun13/impl/auth"
)

func init() { commands["user"] = (*env).userCmd }

func (e *env) userCmd(args []string) error {
	if len(args) == 0 {
		return usagef("user: want a subcommand: add, passwd, role, remove, list")
	}
	sub := args[0]
	fs := newFlags("user " + sub)
	paths := e.dataFlags(fs)
	db := e.databaseFlag(fs)
	role := fs.String("role", "publish", "role for user add: read, publish or admin")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	want := map[string]int{"add": 1, "passwd": 1, "remove": 1, "list": 0, "role": 2}
	n, ok := want[sub]
	if !ok {
		return usagef("user: unknown subcommand %q", sub)
	}
	if len(pos) != n {
		return usagef("user %s: want %d argument(s), got %d", sub, n, len(pos))
	}
	now := time.Now()
	a, err := e.openAuth(paths, *db, 0, false, cliOptions())
	if err != nil {
		return err
	}
	defer a.Close()
	switch sub {
	case "add":
		r, err := auth.ParseRole(*role)
		if err != nil {
			return usagef("user add: --role: %v", err)
		}
		pw, err := readPassword(e.stdin)
		if err != nil {
			return err
		}
		if err := a.Users.Add(pos[0], pw, r, now); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added user %s (%s)\n", pos[0], r)
	case "passwd":
		pw, err := readPassword(e.stdin)
		if err != nil {
			return err
		}
		if err := a.Users.ChangePassword(pos[0], pw, now); err != nil {
			return err
		}
		// Tokens issued before are refused from now on (their iat
		// predates the change); their records are revoked too.
		recs, err := a.Records.RevokeUser(pos[0], a.Revoked, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "changed the password of %s and revoked %d token(s)\n", pos[0], len(recs))
	case "role":
		r, err := auth.ParseRole(pos[1])
		if err != nil {
			return usagef("user role: %v", err)
		}
		if err := a.Users.SetRole(pos[0], r); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s is now %s\n", pos[0], r)
	case "remove":
		if err := a.Users.Remove(pos[0]); err != nil {
			return err
		}
		recs, err := a.Records.RevokeUser(pos[0], a.Revoked, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "removed user %s and revoked %d token(s)\n", pos[0], len(recs))
	case "list":
		for _, u := range a.Users.List(now) {
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\n", u.Name, u.Role, u.Created.UTC().Format(time.RFC3339))
		}
	}
	return nil
}
