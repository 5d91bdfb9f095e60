package lockfile

import (
	"encoding/base64"
	"errors"
)

// nameByte marks the bytes a name segment may hold: A-Z a-z 0-9 - . _ ~ ! * ' ( )
var nameByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~!*'()" {
		t[c] = true
	}
	return t
}()

var (
	errNameLen     = errors.New("name must be 1..214 bytes")
	errNameShape   = errors.New("name must be pkg or @scope/pkg")
	errNameSegment = errors.New("name segment is empty, starts with . or _, or holds a byte outside A-Z a-z 0-9 - . _ ~ ! * ' ( )")
)

// checkName: 1..214 bytes, pkg or @scope/pkg, each segment from the
// allowed bytes and not starting with . or _ (legacy upper case allowed).
func checkName(s []byte) error {
	if len(s) == 0 || len(s) > MaxNameLen {
		return errNameLen
	}
	if s[0] == '@' {
		slash := -1
		for i, c := range s {
			if c == '/' {
				slash = i
				break
			}
		}
		if slash < 0 {
			return errNameShape
		}
		if !segmentOK(s[1:slash]) || !segmentOK(s[slash+1:]) {
			return errNameSegment
		}
		return nil
	}
	if !segmentOK(s) {
		return errNameSegment
	}
	return nil
}

func segmentOK(s []byte) bool {
	if len(s) == 0 || s[0] == '.' || s[0] == '_' {
		return false
	}
	for _, c := range s {
		if !nameByte[c] {
			return false
		}
	}
	return true
}

var errVersion = errors.New("not a semantic version 2.0.0")

// checkVersion is the semver.org regex written out by hand (it runs once
// per record on the decode path, where a regexp would dominate):
//
//	^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)
//	(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?
//	(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$
func checkVersion(s []byte) error {
	if len(s) > MaxVersionLen {
		return errors.New("version is longer than 256 bytes")
	}
	i := 0
	for part := range 3 {
		if part > 0 {
			if i >= len(s) || s[i] != '.' {
				return errVersion
			}
			i++
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == i || (s[i] == '0' && j-i > 1) {
			return errVersion
		}
		i = j
	}
	if i < len(s) && s[i] == '-' {
		i++
		for {
			j := i
			alpha := false
			for j < len(s) && isIdent(s[j]) {
				if !isDigit(s[j]) {
					alpha = true
				}
				j++
			}
			// A numeric identifier has no leading zero; an alphanumeric one
			// may have any digits before its first letter.
			if j == i || (!alpha && s[i] == '0' && j-i > 1) {
				return errVersion
			}
			i = j
			if i < len(s) && s[i] == '.' {
				i++
				continue
			}
			break
		}
	}
	if i < len(s) && s[i] == '+' {
		i++
		for {
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			if j == i {
				return errVersion
			}
			i = j
			if i < len(s) && s[i] == '.' {
				i++
				continue
			}
			break
		}
	}
	if i != len(s) {
		return errVersion
	}
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdent(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c == '-'
}

// checkResolved: http:// or https://, at most 2048 bytes of 0x21..0x7E.
func checkResolved(s []byte) error {
	if len(s) > MaxResolvedLen {
		return errors.New("resolved is longer than 2048 bytes")
	}
	if !hasPrefix(s, "http://") && !hasPrefix(s, "https://") {
		return errors.New("resolved must start with http:// or https://")
	}
	for _, c := range s {
		if c < 0x21 || c > 0x7e {
			return errors.New("resolved holds a byte outside 0x21..0x7e")
		}
	}
	return nil
}

func hasPrefix(s []byte, p string) bool { return len(s) >= len(p) && string(s[:len(p)]) == p }

// integrity algorithms and their digest sizes.
var integrityAlgs = [...]struct {
	prefix string
	size   int
}{{"sha512-", 64}, {"sha384-", 48}, {"sha256-", 32}, {"sha1-", 20}}

// checkIntegrity: ALG-BASE64, standard padded base64 that decodes to the
// algorithm's digest size and re-encodes to the same text. Buffers are on
// the stack: this runs once per record.
func checkIntegrity(s []byte) error {
	for _, a := range integrityAlgs {
		if !hasPrefix(s, a.prefix) {
			continue
		}
		b64 := s[len(a.prefix):]
		if len(b64) != base64.StdEncoding.EncodedLen(a.size) {
			return errors.New("integrity digest has the wrong length for its algorithm")
		}
		// Decode may write up to DecodedLen(88) = 66 bytes before it finds
		// that the padding makes fewer: the buffer must hold them all.
		var raw [66]byte
		n, err := base64.StdEncoding.Decode(raw[:], b64)
		if err != nil || n != a.size {
			return errors.New("integrity digest is not standard padded base64 of the right size")
		}
		var re [88]byte
		base64.StdEncoding.Encode(re[:], raw[:n])
		if string(re[:len(b64)]) != string(b64) {
			return errors.New("integrity digest is not canonical base64")
		}
		return nil
	}
	return errors.New("integrity must be sha512-, sha384-, sha256- or sha1- followed by base64")
}
