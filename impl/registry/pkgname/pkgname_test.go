package pkgname

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestValidateNew(t *testing.T) {
	good := []string{"a", "left-pad", "lodash.merge", "x_y", "@scope/pkg", "@a-b/c.d", "a1", strings.Repeat("a", 214)}
	bad := []string{"", ".", "..", "_x", ".hidden", "__proto__", "@s/..", "@s/.x", "@s/_x", "@/x", "@s/", "@s", "a/b",
		"@s/a/b", "Upper", "@Scope/x", "a b", "a*b", "a~b", "a!b", "a'b", "a(b", "a%2e", "http", "fs",
		"node_modules", "favicon.ico", strings.Repeat("a", 215), "a\x00b", "é"}
	for _, n := range good {
		if err := ValidateNew(n); err != nil {
			t.Errorf("ValidateNew(%q) = %v", n, err)
		}
	}
	for _, n := range bad {
		err := ValidateNew(n)
		if err == nil {
			t.Errorf("ValidateNew(%q) accepted", n)
		} else if !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateNew(%q) = %v, not ErrInvalid", n, err)
		}
	}
	// Legacy names may be looked up, but nothing that escapes a directory.
	for _, n := range []string{"JSONStream", "a~b", "@S/X", "a!b"} {
		if err := Validate(n); err != nil {
			t.Errorf("Validate(%q) = %v", n, err)
		}
	}
	for _, n := range []string{"..", "@s/..", "a*b", "a/b", "_x", ".x", "", "a\\b"} {
		if Validate(n) == nil {
			t.Errorf("Validate(%q) accepted", n)
		}
	}
}

func TestTarballFile(t *testing.T) {
	for _, tc := range []struct{ name, file, version string }{
		{"pkg", "pkg-1.0.0.tgz", "1.0.0"},
		{"@s/pkg", "pkg-1.0.0-beta.1+b.2.tgz", "1.0.0-beta.1+b.2"},
		{"a-b", "a-b-2.0.0.tgz", "2.0.0"},
	} {
		if got := TarballFile(tc.name, tc.version); got != tc.file {
			t.Errorf("TarballFile(%q, %q) = %q", tc.name, tc.version, got)
		}
		if v, err := ParseTarballFile(tc.name, tc.file); err != nil || v != tc.version {
			t.Errorf("ParseTarballFile(%q, %q) = %q, %v", tc.name, tc.file, v, err)
		}
	}
	for _, f := range []string{"../pkg-1.0.0.tgz", "pkg-1.0.0.tgz/..", "other-1.0.0.tgz", "pkg-1.0.tgz", "pkg-*.tgz",
		"pkg-1.0.0.tar", "pkg-1.0.0.tgz.json", "@s/pkg-1.0.0.tgz", "pkg-01.0.0.tgz", "package.json"} {
		if _, err := ParseTarballFile("pkg", f); err == nil {
			t.Errorf("ParseTarballFile(pkg, %q) accepted", f)
		}
	}
}

func TestVersions(t *testing.T) {
	for _, v := range []string{"0.0.0", "1.2.3", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85"} {
		if err := ValidateVersion(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	for _, v := range []string{"", "1", "1.0", "01.0.0", "1.0.0-", "1.0.0+", "v1.0.0", "1.0.0-01", "latest", "1.0.0 ", strings.Repeat("1", 300) + ".0.0"} {
		if ValidateVersion(v) == nil {
			t.Errorf("%q accepted", v)
		}
	}
	// semver.org's precedence example, shuffled.
	want := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.2.0", "1.10.0", "2.0.0"}
	got := slices.Clone(want)
	slices.Reverse(got)
	got[0], got[5] = got[5], got[0]
	slices.SortFunc(got, CompareVersions)
	if !slices.Equal(got, want) {
		t.Errorf("sorted %v", got)
	}
}

func TestTagsAndUsers(t *testing.T) {
	for _, tag := range []string{"latest", "next", "beta-2", "canary.1", "V8"} {
		if err := ValidateTag(tag); err != nil {
			t.Errorf("tag %q: %v", tag, err)
		}
	}
	for _, tag := range []string{"", "1.0", "v1", "a/b", "__proto__", ".x", "a b", strings.Repeat("x", 129)} {
		if ValidateTag(tag) == nil {
			t.Errorf("tag %q accepted", tag)
		}
	}
	for _, u := range []string{"alice", "a.b", "a-b", "a_b", "x1"} {
		if err := ValidateUser(u); err != nil {
			t.Errorf("user %q: %v", u, err)
		}
	}
	for _, u := range []string{"", "Alice", "a:b", ".a", "_a", "-a", "a b", "a/b", strings.Repeat("a", 65)} {
		if ValidateUser(u) == nil {
			t.Errorf("user %q accepted", u)
		}
	}
}
