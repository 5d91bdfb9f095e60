package cases

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/bun13/bun13/fixtures"
)

// Vector is one golden file of the fixtures.
type Vector struct {
	Name string // file name without extension
	Data []byte
	// Manifest is the recorded error of a corrupt vector, nil for the
	// valid ones.
	Manifest *Intent
}

type manifestEntry struct {
	Error  string `json:"error"`
	Offset int    `json:"offset"`
}

// Vectors returns the SPEC's lockfile vectors (valid and corrupt, with
// corrupt-manifest.json) and the corruption matrix (fixtures/corrupt with
// its manifest.json), sorted by name, and the JSON form of every valid
// vector by name.
func Vectors() (lockb []Vector, jsonForms map[string][]byte, err error) {
	jsonForms = map[string][]byte{}
	for _, dir := range []struct{ dir, manifest, prefix string }{
		{"vectors", "vectors/corrupt-manifest.json", "vector/"},
		{"corrupt", "corrupt/manifest.json", "matrix/"},
	} {
		man := map[string]manifestEntry{}
		mb, err := fixtures.FS.ReadFile(dir.manifest)
		if err != nil {
			return nil, nil, err
		}
		if err := json.Unmarshal(mb, &man); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", dir.manifest, err)
		}
		ents, err := fs.ReadDir(fixtures.FS, dir.dir)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range ents {
			name := e.Name()
			b, err := fixtures.FS.ReadFile(path.Join(dir.dir, name))
			if err != nil {
				return nil, nil, err
			}
			base, ok := strings.CutSuffix(name, ".lockb")
			if !ok {
				continue
			}
			v := Vector{Name: dir.prefix + base, Data: b}
			if m, ok := man[name]; ok {
				v.Manifest = &Intent{Code: m.Error, Offset: m.Offset}
			} else if j, err := fixtures.FS.ReadFile(path.Join(dir.dir, base+".json")); err == nil {
				jsonForms[v.Name] = j
			}
			lockb = append(lockb, v)
		}
	}
	sort.Slice(lockb, func(i, j int) bool { return lockb[i].Name < lockb[j].Name })
	return lockb, jsonForms, nil
}

// FrameVectors are the vectors' frames.json (name to hex).
func FrameVectors() (map[string]string, error) {
	b, err := fixtures.FS.ReadFile("vectors/frames.json")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	return m, json.Unmarshal(b, &m)
}

// HeaderVectors are the vectors' headers.json (name to header set).
func HeaderVectors() (map[string]map[string]string, error) {
	b, err := fixtures.FS.ReadFile("vectors/headers.json")
	if err != nil {
		return nil, err
	}
	m := map[string]map[string]string{}
	return m, json.Unmarshal(b, &m)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func hexBytes(s string) ([]byte, error) { return hex.DecodeString(s) }
