// Package confighistory keeps the short, crash-safe history of the configs a lockfile has held: the sidecar bun.lockb.history that `bun13 config history` lists and `bun13 config rollback` restores from.
//
// The sidecar is an 8-byte file header ("BUNH", then the format version
// 1 as a big-endian u32) followed by fixed 32-byte records, appended in
// order:
//
//	+0x00  8  time, Unix nanoseconds, big-endian
//	+0x08  1  source (see Sources: 1 initial, 2 cli, 3 api, ...; 0 other)
//	+0x09 13  the config bytes (SPEC section 2)
//	+0x16  2  reserved, zero
//	+0x18  8  CRC64 (SPEC section 1) over bytes +0x00..+0x17
//
// Every record carries its own checksum, so a writer killed mid-append
// leaves a torn tail (a short record or one whose CRC fails) that Read
// drops and reports: a damaged record and everything after it are never
// trusted. Appends happen under the lockfile's lock (the caller holds
// it); an append first cuts a torn tail off, and when the file holds
// MaxRecords records it is rewritten crash-safely with the newest Keep.
package confighistory

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/bun13/bun13/impl/atomicfile"
	"github.com/bun13/bun13/impl/config"
)

// Layout and bounds.
const (
	Magic      = "BUNH"
	FormatV1   = 1
	HeaderSize = 8
	RecordSize = 32
	// MaxRecords is the most records the file holds; the append that
	// would pass it first rewrites the file with the newest Keep.
	MaxRecords = 256
	Keep       = 128
)

// Suffix is appended to the lockfile's path to name its history.
const Suffix = ".history"

// PathFor returns the history file of the lockfile at lockfile.
func PathFor(lockfile string) string { return lockfile + Suffix }

// Sources are the source names a record can carry, by their byte.
var Sources = [...]string{"other", "initial", "cli", "api", "websocket", "rollback", "repair", "migrate", "init", "file", "import"}

func sourceByte(s string) byte {
	for i, n := range Sources {
		if n == s {
			return byte(i)
		}
	}
	return 0
}

func sourceName(b byte) string {
	if int(b) < len(Sources) {
		return Sources[b]
	}
	return Sources[0]
}

// Record is one config the lockfile held.
type Record struct {
	// N is the record's position, 1 for the oldest kept.
	N      int           `json:"n"`
	Time   time.Time     `json:"time"`
	Source string        `json:"source"`
	Config config.Config `json:"config"`
	// Valid is whether Config passes SPEC section 2 (a record written by
	// this package always does; one that does not is shown, never
	// restored).
	Valid bool `json:"valid"`
}

// Torn describes a damaged tail Read dropped.
type Torn struct {
	// Offset is the byte offset of the first byte not trusted.
	Offset int64
	// Dropped is the number of bytes from Offset to the end of file.
	Dropped int64
	Reason  string
}

func (t *Torn) Error() string {
	return fmt.Sprintf("history: dropped %d bytes from offset %d: %s", t.Dropped, t.Offset, t.Reason)
}

// ErrFormat is a file that is not a history file at all.
var ErrFormat = errors.New("not a config history file")

func encodeRecord(at time.Time, source string, c config.Config) [RecordSize]byte {
	var r [RecordSize]byte
	binary.BigEndian.PutUint64(r[0:], uint64(at.UnixNano()))
	r[8] = sourceByte(source)
	cb := c.Bytes()
	copy(r[9:22], cb[:])
	binary.BigEndian.PutUint64(r[24:], config.CRC64(r[:24]))
	return r
}

// parse returns the records of b and the torn tail, if any.
func parse(b []byte) ([]Record, *Torn, error) {
	if len(b) == 0 {
		return nil, nil, nil
	}
	if len(b) < HeaderSize {
		if string(b) == Magic[:min(len(b), 4)] {
			return nil, &Torn{Offset: 0, Dropped: int64(len(b)), Reason: "file header incomplete"}, nil
		}
		return nil, nil, ErrFormat
	}
	if string(b[:4]) != Magic || binary.BigEndian.Uint32(b[4:8]) != FormatV1 {
		return nil, nil, ErrFormat
	}
	var out []Record
	off := HeaderSize
	for off < len(b) {
		if len(b)-off < RecordSize {
			return out, &Torn{Offset: int64(off), Dropped: int64(len(b) - off), Reason: fmt.Sprintf("short record (%d of %d bytes)", len(b)-off, RecordSize)}, nil
		}
		r := b[off : off+RecordSize]
		if got, want := config.CRC64(r[:24]), binary.BigEndian.Uint64(r[24:]); got != want || r[22] != 0 || r[23] != 0 {
			return out, &Torn{Offset: int64(off), Dropped: int64(len(b) - off), Reason: fmt.Sprintf("record %d fails its checksum", len(out)+1)}, nil
		}
		var cb [config.Size]byte
		copy(cb[:], r[9:22])
		c := config.FromBytes(&cb)
		out = append(out, Record{
			N:      len(out) + 1,
			Time:   time.Unix(0, int64(binary.BigEndian.Uint64(r[0:]))).UTC(),
			Source: sourceName(r[8]),
			Config: c,
			Valid:  c.Validate() == nil,
		})
		off += RecordSize
	}
	return out, nil, nil
}

// Read returns the records of the history file at path (none when it does
// not exist), oldest first, and the torn tail it dropped, if any.
func Read(path string) ([]Record, *Torn, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	recs, torn, err := parse(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, torn, nil
}

// Last returns the newest record, ok false when there is none.
func Last(path string) (Record, bool, error) {
	recs, _, err := Read(path)
	if err != nil || len(recs) == 0 {
		return Record{}, false, err
	}
	return recs[len(recs)-1], true, nil
}

// Append records that the lockfile now holds c, changed by source at at.
// When the history is empty and prev is not nil, *prev is recorded first
// as "initial", so the config before the first recorded change can be
// restored. The caller holds the lockfile's lock. A torn tail is cut off
// first (it was never trusted); it is returned so the caller can say so.
func Append(path string, at time.Time, source string, prev *config.Config, c config.Config) (*Torn, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	recs, torn, err := parse(b)
	if errors.Is(err, ErrFormat) {
		return nil, fmt.Errorf("%s: %w (move it away to start a new history)", path, err)
	}
	var add [][RecordSize]byte
	if len(recs) == 0 && prev != nil && *prev != c {
		add = append(add, encodeRecord(at, "initial", *prev))
	}
	add = append(add, encodeRecord(at, source, c))
	if len(recs)+len(add) > MaxRecords {
		// Rewrite with the newest records: crash-safe, never a half file.
		keep := recs[max(0, len(recs)-(Keep-len(add))):]
		out := make([]byte, 0, HeaderSize+RecordSize*(len(keep)+len(add)))
		out = appendHeader(out)
		for _, r := range keep {
			e := encodeRecord(r.Time, r.Source, r.Config)
			out = append(out, e[:]...)
		}
		for _, r := range add {
			out = append(out, r[:]...)
		}
		return torn, atomicfile.Write(path, out, 0o644)
	}
	end := int64(HeaderSize + RecordSize*len(recs))
	var out []byte
	if len(b) < HeaderSize {
		end = 0
		out = appendHeader(out)
	}
	if err := f.Truncate(end); err != nil {
		return torn, err
	}
	for _, r := range add {
		out = append(out, r[:]...)
	}
	if _, err := f.WriteAt(out, end); err != nil {
		return torn, err
	}
	if err := f.Sync(); err != nil {
		return torn, err
	}
	if len(b) == 0 {
		return torn, atomicfile.SyncDir(filepath.Dir(path)) // the new file's name
	}
	return torn, nil
}

func appendHeader(b []byte) []byte {
	b = append(b, Magic...)
	return binary.BigEndian.AppendUint32(b, FormatV1)
}
