package auth_test

import (
	"path/filepath"
	"testing"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/auth/authtest"
)

// TestConformance runs the store suite on the files of a data directory.
func TestConformance(t *testing.T) {
	authtest.Run(t, authtest.Backing{
		New: func(t *testing.T) func(*testing.T) authtest.Stores {
			dir := t.TempDir()
			return func(t *testing.T) authtest.Stores {
				u, err := auth.OpenUsers(filepath.Join(dir, auth.UsersFile))
				if err != nil {
					t.Fatal(err)
				}
				u.Cost = 4
				tk, err := auth.OpenTokens(filepath.Join(dir, auth.TokensFile))
				if err != nil {
					t.Fatal(err)
				}
				r, err := auth.OpenRevocations(filepath.Join(dir, auth.RevocationsFile))
				if err != nil {
					t.Fatal(err)
				}
				s, err := auth.OpenScopes(filepath.Join(dir, auth.ScopesFile))
				if err != nil {
					t.Fatal(err)
				}
				return authtest.Stores{Users: u, Tokens: tk, Revocations: r, Scopes: s}
			}
		},
	})
}
