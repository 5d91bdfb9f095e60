package auth

import "fmt"

// Role is what a user or token may do. Roles are ordered: each includes
// everything the ones below it may do. The zero Role may do nothing, so a
// forgotten field fails closed.
type Role uint8

// Roles, weakest first.
const (
	RoleRead    Role = iota + 1 // install: fetch packuments and tarballs
	RolePublish                 // also publish, deprecate and tag packages
	RoleAdmin                   // also manage users and other people's tokens
)

var roleNames = [...]string{RoleRead: "read", RolePublish: "publish", RoleAdmin: "admin"}

// ParseRole parses the String form of a role.
func ParseRole(s string) (Role, error) {
	for r := RoleRead; r <= RoleAdmin; r++ {
		if roleNames[r] == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("auth: unknown role %q (want read, publish or admin)", s)
}

// String returns "read", "publish", "admin", or "none" for an invalid role.
func (r Role) String() string {
	if r.valid() {
		return roleNames[r]
	}
	return "none"
}

// Allows reports whether r may do what need requires: admin allows
// publish, publish allows read. An invalid role allows nothing and is
// allowed by nothing.
func (r Role) Allows(need Role) bool {
	return r.valid() && need.valid() && r >= need
}

func (r Role) valid() bool { return r >= RoleRead && r <= RoleAdmin }

// MarshalText encodes r as its name, so JSON files and tokens stay readable.
func (r Role) MarshalText() ([]byte, error) {
	if !r.valid() {
		return nil, fmt.Errorf("auth: cannot encode invalid role %d", r)
	}
	return []byte(roleNames[r]), nil
}

// UnmarshalText is the inverse of MarshalText.
func (r *Role) UnmarshalText(b []byte) error {
	p, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}
