// Package auth issues and verifies the registry's tokens and keeps its users, token records and revocations.
//
// # Pieces
//
//   - [KeySet]: Ed25519 public keys by kid, plus the current signing key.
//     [GenerateKeyFile] and [LoadKeyFile] keep a key in a 0600 PEM file.
//   - [Issuer] signs EdDSA JWTs; [Verifier] checks them (EdDSA only, kid in
//     the KeySet, iss, aud, exp required, nbf and iat with leeway,
//     revocation) and caches successes so a repeated token costs a map
//     lookup instead of a signature check.
//   - [Users]: the users file (bcrypt hashes, roles). [Tokens]: records of
//     issued tokens for npm's token API. [Revocations]: revoked jti values.
//     All three are JSON files that the bun13 CLI may change while the
//     server runs: writes take a file lock and replace the file
//     atomically, and readers notice changes by statting the file, at most
//     every CheckInterval of the time passed in.
//   - [UserStore], [TokenStore], [RevocationStore], [ScopeStore]: what the
//     registry and the CLI need of each table. The file types above
//     implement them for a single node; package auth/pgauth implements
//     them on PostgreSQL for replicas sharing one database, and package
//     auth/authtest is the conformance suite both pass. Verifier takes any
//     RevocationStore: its cached path calls Refresh and Snapshot and
//     compares the returned [RevocationSet] pointer, with no allocation.
//
// Time is always passed in, so tests step a fake clock.
//
// # Use from the registry
//
// Startup:
//
//	priv, err := auth.LoadKeyFile(filepath.Join(dir, auth.KeyFile))
//	// first run: priv, err = auth.GenerateKeyFile(...)
//	keys := &auth.KeySet{}
//	keys.SetSigner(priv) // older public keys: keys.Add(pub)
//	users, err := auth.OpenUsers(filepath.Join(dir, auth.UsersFile))
//	tokens, err := auth.OpenTokens(filepath.Join(dir, auth.TokensFile))
//	revs, err := auth.OpenRevocations(filepath.Join(dir, auth.RevocationsFile))
//	issuer := &auth.Issuer{Keys: keys}
//	verifier := &auth.Verifier{Keys: keys, Revocations: revs}
//
// Login (PUT /-/user/org.couchdb.user:NAME), after the login rate limit:
//
//	u, err := users.Authenticate(name, password, now) // bcrypt, once
//	tok, claims, err := issuer.Issue(u.Name, u.Role, now)
//	_, err = tokens.Add(tok, claims, now)
//	// respond {"ok": true, "token": tok}
//
// Every request with "Authorization: Bearer TOKEN":
//
//	c, err := verifier.Verify(tok, now)
//	if err != nil {
//		authFailures.WithLabelValues(auth.Reason(err)).Inc()
//		// 401
//	}
//	if !c.Role.Allows(auth.RolePublish) { /* 403 */ }
//
// Token API: GET /-/npm/v1/tokens is tokens.List(user, now);
// DELETE /-/npm/v1/tokens/token/KEY is tokens.Revoke(key, revs, now) after
// checking the record's User is the caller (or the caller is admin).
//
// # Revocation latency
//
// A revocation made through this process's Revocations applies to the
// next Verify, cached or not. One written by another process applies to
// the next uncached Verify (each stats the file after the signature
// checks out) and to cached tokens within Revocations.CheckInterval
// (100ms by default).
//
// # Cost
//
// A cached Verify is a lock-free map lookup keyed by the whole token plus
// a few pointer comparisons, with no allocation; an uncached one is
// dominated by one Ed25519 verification. See BenchmarkVerify.
package auth
