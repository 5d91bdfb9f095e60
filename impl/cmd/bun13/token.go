package main

// bun13 token: offline tokens of the registry, signed with its key file.
//
//	bun13 token issue --user U [--role R] [--ttl 24h] [--data DIR]   prints the JWT
//	bun13 token revoke JTI|KEY [--data DIR]                          effective at once on a running server
//	bun13 token list [--user U] [--data DIR]
//
// The user must exist in the users file and the role may not exceed the
// user's (the server caps it anyway). Revocation takes a token's jti or its
// npm token key (the hex SHA-512 that `npm token list` shows). With
// --database URL the tokens of the replicas' shared store; token issue
// then registers --key-file's public key there, so every replica accepts
// what it signs.

import (
	"fmt"
	"time"

	"github.com/bun13/bun13/impl/auth"
)

func init() { commands["token"] = (*env).tokenCmd }

func (e *env) tokenCmd(args []string) error {
	if len(args) == 0 {
		return usagef("token: want a subcommand: issue, revoke, list")
	}
	sub := args[0]
	fs := newFlags("token " + sub)
	paths := e.dataFlags(fs)
	db := e.databaseFlag(fs)
	user := fs.String("user", "", "user the token is for (issue) or whose tokens to list")
	role := fs.String("role", "", "token role: read, publish or admin (default: the user's)")
	ttl := fs.Duration("ttl", 24*time.Hour, "token lifetime")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	now := time.Now()
	switch sub {
	case "issue":
		if len(pos) != 0 || *user == "" {
			return usagef("token issue: want --user U")
		}
		if *ttl <= 0 {
			return usagef("token issue: --ttl must be positive")
		}
		if *ttl > auth.DefaultMaxLifetime {
			fmt.Fprintf(e.stderr, "warning: the server refuses tokens living longer than its --token-ttl (%v by default)\n", auth.DefaultMaxLifetime)
		}
		a, err := e.openAuth(paths, *db, *ttl, true, cliOptions())
		if err != nil {
			return err
		}
		defer a.Close()
		u, ok := a.Users.Get(*user, now)
		if !ok {
			return fmt.Errorf("no user %q (add one with bun13 user add)", *user)
		}
		r := u.Role
		if *role != "" {
			if r, err = auth.ParseRole(*role); err != nil {
				return usagef("token issue: --role: %v", err)
			}
			if !u.Role.Allows(r) {
				return fmt.Errorf("user %s has role %s, cannot issue a %s token", u.Name, u.Role, r)
			}
		}
		tok, claims, err := a.Issuer.Issue(u.Name, r, u.IssueTime(now))
		if err != nil {
			return err
		}
		if _, err := a.Records.Add(tok, claims, now); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, tok)
	case "revoke":
		if len(pos) != 1 {
			return usagef("token revoke: want one JTI or KEY")
		}
		a, err := e.openAuth(paths, *db, 0, false, cliOptions())
		if err != nil {
			return err
		}
		defer a.Close()
		id := pos[0]
		if rec, ok := a.Records.Get(id, now); ok {
			if _, err := a.Records.Revoke(rec.Key, a.Revoked, now); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked token %s of %s\n", rec.ID, rec.User)
			return nil
		}
		for _, rec := range a.Records.List("", now) {
			if rec.ID == id {
				if _, err := a.Records.Revoke(rec.Key, a.Revoked, now); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "revoked token %s of %s\n", rec.ID, rec.User)
				return nil
			}
		}
		// Not recorded (issued elsewhere): revoke the jti for ever.
		if err := a.Revoked.Revoke(now, auth.Revocation{ID: id, Revoked: now}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "revoked jti %s\n", id)
	case "list":
		if len(pos) != 0 {
			return usagef("token list: no arguments")
		}
		a, err := e.openAuth(paths, *db, 0, false, cliOptions())
		if err != nil {
			return err
		}
		defer a.Close()
		for _, rec := range a.Records.List(*user, now) {
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\t%s\t%s\n", rec.ID, rec.User, rec.Role,
				rec.Created.UTC().Format(time.RFC3339), rec.Expires.UTC().Format(time.RFC3339), rec.Key)
		}
	default:
		return usagef("token: unknown subcommand %q", sub)
	}
	return nil
}
