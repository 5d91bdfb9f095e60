// Package codes holds the SPEC's error codes and the one error type that carries them.
//
// Every decoder in the project (lockfile, config, frame, headers) reports a
// failure as a *Error whose Code is one of the constants below. A Code is
// itself an error, so callers test with errors.Is(err, codes.BadMagic) and
// reach the offset or header name with errors.As(err, &e).
package codes

import (
	"errors"
	"fmt"
)

// Code is a SPEC error code, such as "bad-magic". It is a comparable error,
// usable as a sentinel with errors.Is.
type Code string

func (c Code) Error() string { return string(c) }

// Lockfile and config codes (SPEC sections 2 and 3).
const (
	Truncated          Code = "truncated"
	BadMagic           Code = "bad-magic"
	HeaderChecksum     Code = "header-checksum"
	UnsupportedVersion Code = "unsupported-version"
	RegistryHash       Code = "registry-hash"
	UnknownFeature     Code = "unknown-feature"
	TerminalMode       Code = "terminal-mode"
	TerminalSize       Code = "terminal-size"
	Reserved           Code = "reserved"
	BodyChecksum       Code = "body-checksum"
	Package            Code = "package"
	TrailingData       Code = "trailing-data"
	RegistryURL        Code = "registry-url"
)

// Frame codes (SPEC section 4).
const (
	FrameLength   Code = "frame-length"
	FrameChecksum Code = "frame-checksum"
	FrameType     Code = "frame-type"
	FrameOffset   Code = "frame-offset"
	FrameValue    Code = "frame-value"
)

// Header codes (SPEC section 5). A header's checksum mismatch reuses
// HeaderChecksum: the SPEC names both "header-checksum".
const (
	HeaderMissing Code = "header-missing"
	HeaderFormat  Code = "header-format"
	HeaderRange   Code = "header-range"
)

// NoOffset marks an Error that has no byte offset (header and env errors).
const NoOffset = -1

// Error is a failure with its SPEC code, the byte offset it was found at
// (NoOffset when the input is not a byte layout), the header or variable it
// concerns (Name, may be empty) and a human detail.
type Error struct {
	Code   Code
	Offset int
	Name   string
	Detail string
}

// At returns an *Error with an offset and a formatted detail.
func At(code Code, offset int, format string, args ...any) *Error {
	return &Error{Code: code, Offset: offset, Detail: fmt.Sprintf(format, args...)}
}

// Named returns an *Error without offset that names a header or variable.
func Named(code Code, name string, format string, args ...any) *Error {
	return &Error{Code: code, Offset: NoOffset, Name: name, Detail: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	s := string(e.Code)
	if e.Name != "" {
		s += ": " + e.Name
	}
	if e.Offset != NoOffset {
		s += fmt.Sprintf(" at offset %d (0x%02x)", e.Offset, e.Offset)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap makes errors.Is(err, code) work.
func (e *Error) Unwrap() error { return e.Code }

// Of returns the SPEC code of err, or "" when err carries none.
func Of(err error) Code {
	var c Code
	if errors.As(err, &c) {
		return c
	}
	return ""
}

// OffsetOf returns the byte offset err carries, or NoOffset.
func OffsetOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Offset
	}
	return NoOffset
}
