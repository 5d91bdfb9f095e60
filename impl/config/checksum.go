package config

import "hash/crc64"

// The header checksum (CRC-64/XZ of "BUN1" and the 13 config bytes) runs
// on every lockfile read and every request carrying config headers, so it
// is computed without crc64's chain of 13 dependent table lookups.
//
// A CRC is affine in its input: the checksum of "BUN1" + b is the checksum
// of "BUN1" + 13 zero bytes, XOR one table term per nibble of b. The 26
// lookups are independent, so the CPU overlaps them; about 7 ns against
// 15 ns for crc64.Update on 13 bytes. TestHeaderChecksumMatchesCRC64
// holds it equal to the plain CRC.

// zeroCRC is the header checksum of 13 zero bytes.
var zeroCRC = crc64.Update(magicCRC, crcTable, make([]byte, Size))

// nibbleTable[2i][v] and [2i+1][v] are the change to the header checksum
// made by config byte i holding v (low nibble) or v<<4 (high nibble)
// instead of 0: the raw register (no inversions) of 13 bytes that are zero
// but for that one. Read-only after init.
var nibbleTable = func() (t [2 * Size][16]uint64) {
	for i := range t {
		for v := range t[i] {
			var b [Size]byte
			b[i/2] = byte(v << (4 * (i % 2)))
			// crc64.Update inverts the register on entry and exit; undo
			// both to run the raw register from 0.
			t[i][v] = ^crc64.Update(^uint64(0), crcTable, b[:])
		}
	}
	return t
}()

// HeaderChecksum is the CRC64 of "BUN1" followed by the 13 bytes: the
// lockfile's header checksum and the X-Bun-Config-Checksum value.
func HeaderChecksum(b *[Size]byte) uint64 {
	t := &nibbleTable
	return zeroCRC ^
		t[0][b[0]&0xf] ^ t[1][b[0]>>4] ^ t[2][b[1]&0xf] ^ t[3][b[1]>>4] ^
		t[4][b[2]&0xf] ^ t[5][b[2]>>4] ^ t[6][b[3]&0xf] ^ t[7][b[3]>>4] ^
		t[8][b[4]&0xf] ^ t[9][b[4]>>4] ^ t[10][b[5]&0xf] ^ t[11][b[5]>>4] ^
		t[12][b[6]&0xf] ^ t[13][b[6]>>4] ^ t[14][b[7]&0xf] ^ t[15][b[7]>>4] ^
		t[16][b[8]&0xf] ^ t[17][b[8]>>4] ^ t[18][b[9]&0xf] ^ t[19][b[9]>>4] ^
		t[20][b[10]&0xf] ^ t[21][b[10]>>4] ^ t[22][b[11]&0xf] ^ t[23][b[11]>>4] ^
		t[24][b[12]&0xf] ^ t[25][b[12]>>4]
}

// Checksum is the header checksum of c (reserved byte 0), computed from
// the fields without building the 13 bytes.
func (c Config) Checksum() uint64 {
	t := &nibbleTable
	s := zeroCRC
	s ^= t[0][c.Version&0xf] ^ t[1][c.Version>>4]
	h := c.RegistryHash
	s ^= t[2][h>>24&0xf] ^ t[3][h>>28] ^ t[4][h>>16&0xf] ^ t[5][h>>20&0xf] ^
		t[6][h>>8&0xf] ^ t[7][h>>12&0xf] ^ t[8][h&0xf] ^ t[9][h>>4&0xf]
	f := uint32(c.FeatureFlags)
	s ^= t[10][f>>24&0xf] ^ t[11][f>>28] ^ t[12][f>>16&0xf] ^ t[13][f>>20&0xf] ^
		t[14][f>>8&0xf] ^ t[15][f>>12&0xf] ^ t[16][f&0xf] ^ t[17][f>>4&0xf]
	m := uint8(c.TerminalMode)
	s ^= t[18][m&0xf] ^ t[19][m>>4]
	s ^= t[20][c.Rows&0xf] ^ t[21][c.Rows>>4]
	s ^= t[22][c.Cols&0xf] ^ t[23][c.Cols>>4]
	return s
}
