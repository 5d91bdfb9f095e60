package main

// bun13 scope: the owners and members of npm scopes (DATA/scopes.json),
// also while the server runs (writes take the file's lock and replace it
// atomically; the server sees a change within 100 ms). Only a scope's
// owner and members may create packages in it; the first publisher in an
// unowned scope becomes its owner. With --database URL (or
// BUN13_REGISTRY_DATABASE) the scopes shared by every replica in
// PostgreSQL instead.
//
//	bun13 scope add @team --owner alice [--data DIR]     an organization
//	bun13 scope member add @team bob [--data DIR]
//	bun13 scope member remove @team bob [--data DIR]
//	bun13 scope list [--data DIR]

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/bun13/bun13/impl/auth"
)

func init() { commands["scope"] = (*env).scopeCmd }

func (e *env) scopeCmd(args []string) error {
	if len(args) == 0 {
		return usagef("scope: want a subcommand: add, member, list")
	}
	sub := args[0]
	rest := args[1:]
	if sub == "member" {
		if len(rest) == 0 || (rest[0] != "add" && rest[0] != "remove") {
			return usagef("scope member: want add or remove")
		}
		sub, rest = "member "+rest[0], rest[1:]
	}
	fs := newFlags("scope " + sub)
	paths := e.dataFlags(fs)
	db := e.databaseFlag(fs)
	owner := fs.String("owner", "", "owner of a new scope (scope add)")
	pos, err := parseInterspersed(fs, rest)
	if err != nil {
		return err
	}
	want := map[string]int{"add": 1, "member add": 2, "member remove": 2, "list": 0}
	n, ok := want[sub]
	if !ok {
		return usagef("scope: unknown subcommand %q", sub)
	}
	if len(pos) != n {
		return usagef("scope %s: want %d argument(s), got %d", sub, n, len(pos))
	}
	var (
		scopes auth.ScopeStore
		users  func() (auth.UserStore, error)
	)
	if *db != "" {
		a, err := e.openAuth(paths, *db, 0, false, cliOptions())
		if err != nil {
			return err
		}
		defer a.Close()
		scopes = a.Scopes
		users = func() (auth.UserStore, error) { return a.Users, nil }
	} else {
		fileScopes, err := auth.OpenScopes(filepath.Join(paths.data, auth.ScopesFile))
		if err != nil {
			return err
		}
		scopes = fileScopes
		users = func() (auth.UserStore, error) {
			p := paths.usersFile
			if p == "" {
				p = filepath.Join(paths.data, auth.UsersFile)
			}
			return auth.OpenUsers(p)
		}
	}
	now := time.Now()
	userExists := func(name string) error {
		users, err := users()
		if err != nil {
			return err
		}
		if _, ok := users.Get(name, now); !ok {
			return fmt.Errorf("no such user %q (bun13 user add %s)", name, name)
		}
		return nil
	}
	switch sub {
	case "add":
		if *owner == "" {
			return usagef("scope add: --owner is required")
		}
		if err := userExists(*owner); err != nil {
			return err
		}
		if err := scopes.Add(pos[0], *owner, now); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added scope @%s (owner %s)\n", strings.TrimPrefix(pos[0], "@"), *owner)
	case "member add":
		if err := userExists(pos[1]); err != nil {
			return err
		}
		if err := scopes.AddMember(pos[0], pos[1]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s may now create packages in @%s\n", pos[1], strings.TrimPrefix(pos[0], "@"))
	case "member remove":
		if err := scopes.RemoveMember(pos[0], pos[1]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "removed %s from @%s\n", pos[1], strings.TrimPrefix(pos[0], "@"))
	case "list":
		for _, s := range scopes.List(now) {
			fmt.Fprintf(e.stdout, "@%s\t%s\t%s\t%s\n", s.Name, s.Owner, strings.Join(s.Members, ","), s.Origin)
		}
	}
	return nil
}
