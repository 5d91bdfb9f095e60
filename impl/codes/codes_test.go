package codes

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorText(t *testing.T) {
	cases := []struct {
		err  *Error
		want string
	}{
		{At(BadMagic, 0, "got %q", "XX"), `bad-magic at offset 0 (0x00): got "XX"`},
		{At(Package, 1, ""), "package at offset 1 (0x01)"},
		{At(TerminalSize, 0x1a, "rows %d", 0), "terminal-size at offset 26 (0x1a): rows 0"},
		{At(TrailingData, 300, "%d bytes", 2), "trailing-data at offset 300 (0x12c): 2 bytes"},
		{Named(HeaderFormat, "X-Bun-Config-Rows", "not a number"), "header-format: X-Bun-Config-Rows: not a number"},
		{Named(HeaderMissing, "X-Bun-Config-Version", ""), "header-missing: X-Bun-Config-Version"},
		{Named(RegistryURL, "", "empty"), "registry-url: empty"},
		{&Error{Code: FrameType, Offset: NoOffset}, "frame-type"},
		{&Error{Code: HeaderRange, Offset: 2, Name: "X-Bun-Config-Cols"}, "header-range: X-Bun-Config-Cols at offset 2 (0x02)"},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
}

func TestNoOffsetIsNegative(t *testing.T) {
	// Offsets are byte positions, so the "no offset" mark must be one no
	// layout can hold: every offset from 0 up is a real one.
	if NoOffset >= 0 {
		t.Fatalf("NoOffset = %d, want a negative value", NoOffset)
	}
	if NoOffset != -1 {
		t.Fatalf("NoOffset = %d, want -1", NoOffset)
	}
	for _, off := range []int{0, 1, 2, 63, 64} {
		e := At(Reserved, off, "")
		if OffsetOf(e) != off {
			t.Errorf("OffsetOf(At(.., %d)) = %d", off, OffsetOf(e))
		}
		want := fmt.Sprintf("reserved at offset %d (0x%02x)", off, off)
		if e.Error() != want {
			t.Errorf("At(.., %d).Error() = %q, want %q", off, e.Error(), want)
		}
	}
}

func TestNamedHasNoOffset(t *testing.T) {
	e := Named(HeaderRange, "X-Bun-Config-Mode", "%d", 7)
	if e.Offset != NoOffset || OffsetOf(e) != NoOffset {
		t.Fatalf("Named offset = %d / %d, want NoOffset", e.Offset, OffsetOf(e))
	}
	if e.Name != "X-Bun-Config-Mode" || e.Detail != "7" || e.Code != HeaderRange {
		t.Fatalf("Named = %+v", e)
	}
}

func TestOfAndIs(t *testing.T) {
	e := At(BodyChecksum, 0x19, "mismatch")
	wrapped := fmt.Errorf("decode: %w", e)
	if Of(wrapped) != BodyChecksum {
		t.Errorf("Of(wrapped) = %q", Of(wrapped))
	}
	if !errors.Is(wrapped, BodyChecksum) || errors.Is(wrapped, HeaderChecksum) {
		t.Error("errors.Is does not follow the code")
	}
	if OffsetOf(wrapped) != 0x19 {
		t.Errorf("OffsetOf(wrapped) = %d", OffsetOf(wrapped))
	}
	if Of(errors.New("plain")) != "" || Of(nil) != "" {
		t.Error("Of of an error without a code is not empty")
	}
	if OffsetOf(errors.New("plain")) != NoOffset || OffsetOf(FrameValue) != NoOffset {
		t.Error("OffsetOf of an error without *Error is not NoOffset")
	}
	if Of(FrameValue) != FrameValue || FrameValue.Error() != "frame-value" {
		t.Error("a bare Code is not its own code")
	}
}
