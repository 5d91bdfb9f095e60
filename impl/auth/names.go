package auth

import (
	"errors"
	"fmt"
)

// ErrBadUserName is wrapped by ValidUserName's errors.
var ErrBadUserName = errors.New("auth: invalid user name")

// maxUserName is npm's limit; names are bytes here, and since every
// allowed byte is ASCII that is also characters.
const maxUserName = 214

// ValidUserName checks a user name against npm's rules (npm-user-validate):
// non-empty, at most 214 characters, lowercase, no leading '.', and made
// only of characters encodeURIComponent leaves alone, so a name is safe in
// a URL path unescaped. Because ':' is not allowed, "ip:..." rate-limit keys
// and user names never collide.
func ValidUserName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrBadUserName)
	}
	if len(name) > maxUserName {
		return fmt.Errorf("%w: longer than %d characters", ErrBadUserName, maxUserName)
	}
	if name[0] == '.' {
		return fmt.Errorf("%w: %q starts with '.'", ErrBadUserName, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '!' || c == '~' || c == '*' || c == '\'' || c == '(' || c == ')':
		case 'A' <= c && c <= 'Z':
			return fmt.Errorf("%w: %q is not lowercase", ErrBadUserName, name)
		default:
			return fmt.Errorf("%w: %q has a character that is not URL-safe", ErrBadUserName, name)
		}
	}
	return nil
}
