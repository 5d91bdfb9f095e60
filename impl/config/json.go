package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/bun13/bun13/impl/codes"
)

// jsonConfig is the SPEC's JSON form of the config.
type jsonConfig struct {
	Version      *int   `json:"version"`
	RegistryHash string `json:"registryHash"`
	FeatureFlags string `json:"featureFlags"`
	TerminalMode string `json:"terminalMode"`
	Rows         *int   `json:"rows"`
	Cols         *int   `json:"cols"`
}

// MarshalJSON writes the SPEC's JSON form: hashes and flags as 0x + 8
// lowercase hex digits, the terminal mode by name.
func (c Config) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"version":%d,"registryHash":"0x%08x","featureFlags":"0x%08x","terminalMode":%q,"rows":%d,"cols":%d}`,
		c.Version, c.RegistryHash, uint32(c.FeatureFlags), c.TerminalMode.String(), c.Rows, c.Cols), nil
}

// UnmarshalJSON reads the SPEC's JSON form. Every field is required; a
// value out of its field's range gets that field's SPEC code. The result is
// validated as a whole by Validate.
func (c *Config) UnmarshalJSON(b []byte) error {
	var j jsonConfig
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var out Config
	switch {
	case j.Version == nil:
		return fmt.Errorf("config: version is required")
	case *j.Version < 0 || *j.Version > 255:
		return codes.At(codes.UnsupportedVersion, OffsetVersion, "version %d", *j.Version)
	}
	out.Version = uint8(*j.Version)
	h, err := parseHex32(j.RegistryHash)
	if err != nil {
		return codes.At(codes.RegistryHash, OffsetRegistryHash, "registryHash: %v", err)
	}
	out.RegistryHash = h
	f, err := parseHex32(j.FeatureFlags)
	if err != nil {
		return codes.At(codes.UnknownFeature, OffsetFeatureFlags, "featureFlags: %v", err)
	}
	out.FeatureFlags = Flags(f)
	m, ok := ParseMode(j.TerminalMode)
	if !ok {
		return codes.At(codes.TerminalMode, OffsetTerminalMode, "terminalMode %q, want none, cooked or raw", j.TerminalMode)
	}
	out.TerminalMode = m
	if j.Rows == nil || *j.Rows < 1 || *j.Rows > 255 {
		return codes.At(codes.TerminalSize, OffsetRows, "rows must be 1..255")
	}
	if j.Cols == nil || *j.Cols < 1 || *j.Cols > 255 {
		return codes.At(codes.TerminalSize, OffsetCols, "cols must be 1..255")
	}
	out.Rows, out.Cols = uint8(*j.Rows), uint8(*j.Cols)
	*c = out
	return nil
}

// parseHex32 reads 0x followed by 1..8 hex digits.
func parseHex32(s string) (uint32, error) {
	if !strings.HasPrefix(s, "0x") || len(s) < 3 || len(s) > 10 {
		return 0, fmt.Errorf("%q is not 0x + up to 8 hex digits", s)
	}
	v, err := strconv.ParseUint(s[2:], 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not 0x + up to 8 hex digits", s)
	}
	return uint32(v), nil
}
