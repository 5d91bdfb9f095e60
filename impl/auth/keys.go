package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
)

// KeyID returns the kid for pub: the first 16 hex digits of its SHA-256.
// Deriving it from the key keeps it stable across restarts and hosts
// without storing it anywhere.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateKeyFile creates a new Ed25519 signing key at path (mode 0600,
// PKCS#8 PEM) and returns it. It fails if path exists, so a second server
// or a retried setup can never replace a key that tokens are signed with.
func GenerateKeyFile(path string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := createFile(path, data, 0o600); err != nil {
		return nil, err
	}
	return priv, nil
}

// LoadKeyFile reads a key written by GenerateKeyFile.
func LoadKeyFile(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("auth: %s: no PEM PRIVATE KEY block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("auth: %s: %T is not an Ed25519 key", path, k)
	}
	return priv, nil
}

// ErrNoSigningKey is returned when issuing a token with no signing key set.
var ErrNoSigningKey = errors.New("auth: no signing key")

// KeySet holds the public keys tokens are verified with, by kid, and the
// one private key new tokens are signed with. To rotate, set the new
// signing key and keep the old public key until the tokens it signed have
// expired or been replaced; removing it rejects them at once, cached or
// not.
//
// The zero value is an empty set. It is safe for concurrent use; lookups
// take no lock.
type KeySet struct {
	mu     sync.Mutex // serialises writers
	keys   atomic.Pointer[keyMap]
	signer atomic.Pointer[signingKey]
}

// keyMap is never modified once published; Verifier's cache compares
// pointers to it to notice key removals.
type keyMap map[string]ed25519.PublicKey

type signingKey struct {
	kid  string
	priv ed25519.PrivateKey
}

// Add adds a verification key and returns its kid. It panics if pub is not
// ed25519.PublicKeySize bytes, like crypto/ed25519 does.
func (s *KeySet) Add(pub ed25519.PublicKey) string {
	if len(pub) != ed25519.PublicKeySize {
		panic(fmt.Sprintf("auth: bad Ed25519 public key length %d", len(pub)))
	}
	kid := KeyID(pub)
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.copyKeys()
	m[kid] = slices.Clone(pub)
	s.keys.Store(&m)
	return kid
}

// Remove removes the key kid. If it is the signing key, there is no
// signing key afterwards: tokens signed with it could not be verified.
func (s *KeySet) Remove(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.copyKeys()
	delete(m, kid)
	s.keys.Store(&m)
	if sk := s.signer.Load(); sk != nil && sk.kid == kid {
		s.signer.Store(nil)
	}
}

// SetSigner makes priv the key new tokens are signed with, adds its public
// half for verification, and returns its kid. Earlier keys stay in the set.
func (s *KeySet) SetSigner(priv ed25519.PrivateKey) string {
	if len(priv) != ed25519.PrivateKeySize {
		panic(fmt.Sprintf("auth: bad Ed25519 private key length %d", len(priv)))
	}
	kid := s.Add(priv.Public().(ed25519.PublicKey))
	s.signer.Store(&signingKey{kid: kid, priv: slices.Clone(priv)})
	return kid
}

// Signer returns the current signing key's kid, or "" if there is none.
func (s *KeySet) Signer() string {
	if sk := s.signer.Load(); sk != nil {
		return sk.kid
	}
	return ""
}

// Key returns the verification key kid.
func (s *KeySet) Key(kid string) (ed25519.PublicKey, bool) {
	pub, ok := s.snapshot()[kid]
	return pub, ok
}

// IDs returns the kids of all verification keys, sorted.
func (s *KeySet) IDs() []string {
	return slices.Sorted(maps.Keys(s.snapshot()))
}

func (s *KeySet) snapshot() keyMap {
	if m := s.load(); m != nil {
		return *m
	}
	return nil
}

// load returns the published key map; nil for a nil or empty set.
func (s *KeySet) load() *keyMap {
	if s == nil {
		return nil
	}
	return s.keys.Load()
}

func (s *KeySet) copyKeys() keyMap {
	m := keyMap{}
	if cur := s.keys.Load(); cur != nil {
		maps.Copy(m, *cur)
	}
	return m
}
