package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// releaseConfig is the part of impl/deploy/goreleaser.yaml the release
// depends on.
type releaseConfig struct {
	Version int `json:"version"`
	Builds  []struct {
		ID     string   `json:"id"`
		Main   string   `json:"main"`
		Binary string   `json:"binary"`
		Env    []string `json:"env"`
		Flags  []string `json:"flags"`
		Goos   []string `json:"goos"`
		Goarch []string `json:"goarch"`
	} `json:"builds"`
	Checksum map[string]any   `json:"checksum"`
	Sboms    []map[string]any `json:"sboms"`
	Dockers  []struct {
		IDs                []string `json:"ids"`
		Goos               string   `json:"goos"`
		Goarch             string   `json:"goarch"`
		Dockerfile         string   `json:"dockerfile"`
		ExtraFiles         []string `json:"extra_files"`
		BuildFlagTemplates []string `json:"build_flag_templates"`
	} `json:"dockers"`
	DockerManifests []struct {
		ImageTemplates []string `json:"image_templates"`
	} `json:"docker_manifests"`
}

// TestReleaseConfig checks the release configuration without goreleaser
// itself (see the note in .ci/run): static builds for linux and darwin on
// amd64 and arm64 with checksums and SBOMs; one image per linux
// architecture from the Containerfile, joined in a manifest; and every
// COPY source of the Containerfile present in the build context
// goreleaser assembles (the binary and extra_files) and in the one
// build.sh assembles, so neither image build can miss a file.
func TestReleaseConfig(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "impl/deploy/goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rc releaseConfig
	if err := yaml.Unmarshal(b, &rc); err != nil {
		t.Fatal(err)
	}
	if rc.Version != 2 || len(rc.Builds) != 1 {
		t.Fatalf("version %d, %d builds", rc.Version, len(rc.Builds))
	}
	bd := rc.Builds[0]
	if bd.Main != "./impl/cmd/bun13" || !slices.Contains(bd.Env, "CGO_ENABLED=0") || !slices.Contains(bd.Flags, "-trimpath") {
		t.Errorf("build %+v: want ./impl/cmd/bun13, CGO_ENABLED=0, -trimpath", bd)
	}
	slices.Sort(bd.Goos)
	slices.Sort(bd.Goarch)
	if !slices.Equal(bd.Goos, []string{"darwin", "linux"}) || !slices.Equal(bd.Goarch, []string{"amd64", "arm64"}) {
		t.Errorf("platforms %v x %v", bd.Goos, bd.Goarch)
	}
	if rc.Checksum == nil || len(rc.Sboms) == 0 {
		t.Error("no checksum or sbom section")
	}
	if _, err := os.Stat(filepath.Join(root, strings.TrimPrefix(bd.Main, "./"))); err != nil {
		t.Error(err)
	}

	cf, err := os.ReadFile(filepath.Join(root, "impl/deploy/container/Containerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, m := range regexp.MustCompile(`(?m)^COPY\s+(?:--\S+\s+)*(\S+)\s+\S+\s*$`).FindAllStringSubmatch(string(cf), -1) {
		sources = append(sources, strings.TrimSuffix(m[1], "/"))
	}
	if len(sources) == 0 {
		t.Fatal("no COPY in the Containerfile")
	}
	arches := map[string]bool{}
	for _, d := range rc.Dockers {
		arches[d.Goarch] = true
		if d.Goos != "linux" || d.Dockerfile != "impl/deploy/container/Containerfile" || !slices.Contains(d.IDs, bd.ID) {
			t.Errorf("docker %+v", d)
		}
		if !slices.Contains(d.BuildFlagTemplates, "--platform=linux/"+d.Goarch) {
			t.Errorf("docker %s: no --platform=linux/%s", d.Goarch, d.Goarch)
		}
		for _, arg := range []string{"VERSION", "REVISION", "SOURCE"} {
			if !slices.ContainsFunc(d.BuildFlagTemplates, func(f string) bool { return strings.HasPrefix(f, "--build-arg="+arg+"=") }) {
				t.Errorf("docker %s: no --build-arg=%s (the OCI label)", d.Goarch, arg)
			}
		}
		for _, src := range sources {
			in := src == bd.Binary
			for _, x := range d.ExtraFiles {
				if src == x || strings.HasPrefix(src, x+"/") {
					in = true
				}
			}
			if !in {
				t.Errorf("Containerfile copies %s, which the goreleaser context (%s + %v) lacks", src, bd.Binary, d.ExtraFiles)
			}
		}
		for _, x := range d.ExtraFiles {
			if _, err := os.Stat(filepath.Join(root, x)); err != nil {
				t.Errorf("extra file: %v", err)
			}
		}
	}
	if !arches["amd64"] || !arches["arm64"] || len(rc.DockerManifests) == 0 || len(rc.DockerManifests[0].ImageTemplates) != 2 {
		t.Errorf("images: arches %v, manifests %+v", arches, rc.DockerManifests)
	}
	// build.sh's context: the binary at the root and the rootfs tree.
	sh, err := os.ReadFile(filepath.Join(root, "impl/deploy/container/build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range sources {
		if src != "bun13" && !strings.Contains(string(sh), `"$ctx/`+src) && !strings.HasPrefix(src, "impl/deploy/container/rootfs") {
			t.Errorf("build.sh does not put %s in the context", src)
		}
	}
	if !strings.Contains(string(sh), `-o "$ctx/bun13"`) || !strings.Contains(string(sh), `cp -R impl/deploy/container/rootfs "$ctx/impl/deploy/container/rootfs"`) {
		t.Error("build.sh no longer builds bun13 and copies rootfs into the context")
	}
}
