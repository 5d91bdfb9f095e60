package deploy_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/bun13/bun13/impl/auth"
	"github.com/bun13/bun13/impl/lockfile"
	"github.com/bun13/bun13/impl/testenv"
	"github.com/bun13/bun13/impl/testenv/pgtemp"
	"github.com/bun13/bun13/impl/testenv/s3temp"
)

const chartDir = "impl/deploy/helm/bun13"

// rendered is one mode's objects, decoded strictly.
type rendered struct {
	kinds   []string
	deploy  *appsv1.Deployment
	service *corev1.Service
	cm      *corev1.ConfigMap
	pvc     *corev1.PersistentVolumeClaim
	pdb     *policyv1.PodDisruptionBudget
	ingress *networkingv1.Ingress
	sm      *monitoringv1.ServiceMonitor
	rule    *monitoringv1.PrometheusRule
}

// decodeStrict decodes every document of a `helm template` output into
// its Kubernetes API type; a field the type does not have, a duplicate
// key or an unknown kind is an error.
func decodeStrict(t *testing.T, out string) *rendered {
	t.Helper()
	r := &rendered{}
	for _, doc := range strings.Split(out, "\n---\n") {
		doc = strings.TrimPrefix(strings.TrimSpace(doc), "---")
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("document is not YAML: %v\n%s", err, doc)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			r.deploy = &appsv1.Deployment{}
			obj = r.deploy
		case "v1 Service":
			r.service = &corev1.Service{}
			obj = r.service
		case "v1 ConfigMap":
			r.cm = &corev1.ConfigMap{}
			obj = r.cm
		case "v1 PersistentVolumeClaim":
			r.pvc = &corev1.PersistentVolumeClaim{}
			obj = r.pvc
		case "v1 ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "policy/v1 PodDisruptionBudget":
			r.pdb = &policyv1.PodDisruptionBudget{}
			obj = r.pdb
		case "networking.k8s.io/v1 Ingress":
			r.ingress = &networkingv1.Ingress{}
			obj = r.ingress
		case "monitoring.coreos.com/v1 ServiceMonitor":
			r.sm = &monitoringv1.ServiceMonitor{}
			obj = r.sm
		case "monitoring.coreos.com/v1 PrometheusRule":
			r.rule = &monitoringv1.PrometheusRule{}
			obj = r.rule
		default:
			t.Fatalf("unexpected object %s %s:\n%s", tm.APIVersion, tm.Kind, doc)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s does not decode strictly into %T: %v\n%s", tm.Kind, obj, err, doc)
		}
		r.kinds = append(r.kinds, tm.Kind)
	}
	slices.Sort(r.kinds)
	return r
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// TestHelmChart lints and renders the chart in both modes, with every
// optional object on, decodes each object strictly into its k8s.io/api
// (or prometheus-operator) type and checks what the deployment depends
// on; then starts the real binary with the pod's arguments and
// environment and probes the routes the pod's probes name.
func TestHelmChart(t *testing.T) {
	helm := testenv.LookPath(t, "helm", "go install helm.sh/helm/v3/cmd/helm@v3.22.0")
	root := repoRoot(t)
	chart := filepath.Join(root, chartDir)
	rules, err := os.ReadFile(filepath.Join(root, "fixtures/prometheus/rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if copied, err := os.ReadFile(filepath.Join(chart, "files/rules.yml")); err != nil || !bytes.Equal(copied, rules) {
		t.Fatalf("%s/files/rules.yml differs from fixtures/prometheus/rules.yml (cp fixtures/prometheus/rules.yml %s/files/rules.yml): %v", chartDir, chartDir, err)
	}
	bin := buildBun13(t)
	optional := []string{"--set", "ingress.enabled=true,serviceMonitor.enabled=true,prometheusRule.enabled=true"}
	for _, mode := range []struct {
		name  string
		args  []string
		kinds []string
	}{
		{"single", nil, []string{"ConfigMap", "Deployment", "Ingress", "PersistentVolumeClaim", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor"}},
		{"distributed", []string{"-f", filepath.Join(chart, "values-distributed.yaml")}, []string{"ConfigMap", "Deployment", "Ingress", "PodDisruptionBudget", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			run(t, time.Minute, nil, helm, append([]string{"lint", "--strict", chart}, mode.args...)...)
			run(t, time.Minute, nil, helm, append(append([]string{"lint", "--strict", chart}, mode.args...), optional...)...)
			out := run(t, time.Minute, nil, helm, append(append([]string{"template", "reg", chart}, mode.args...), optional...)...)
			r := decodeStrict(t, out)
			if !reflect.DeepEqual(r.kinds, mode.kinds) {
				t.Fatalf("objects %v, want %v", r.kinds, mode.kinds)
			}
			checkChart(t, r, mode.name == "distributed", rules)
			var secrets map[string]string
			if mode.name == "distributed" {
				secrets = testSecrets(t)
			}
			startLikePod(t, bin, r, secrets)
		})
	}
	// A bad mode is refused at render time.
	if out, err := runErr(time.Minute, nil, "", helm, "template", "reg", chart, "--set", "mode=cluster"); err == nil || !strings.Contains(out, "mode must be single or distributed") {
		t.Errorf("mode=cluster rendered: %v\n%s", err, out)
	}
}

func checkChart(t *testing.T, r *rendered, distributed bool, rules []byte) {
	t.Helper()
	d := r.deploy
	pod := d.Spec.Template
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("containers: %d", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]

	// Replicas and strategy per mode.
	if distributed {
		if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
			t.Errorf("distributed: replicas %v strategy %s", d.Spec.Replicas, d.Spec.Strategy.Type)
		}
		if r.pdb == nil || !reflect.DeepEqual(r.pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels) {
			t.Errorf("PodDisruptionBudget selector does not match the pods")
		}
		for _, v := range pod.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				t.Errorf("distributed mode mounts a PVC: %s", v.Name)
			}
		}
		secretEnv := map[string]bool{}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				secretEnv[e.Name] = true
			}
		}
		for _, k := range []string{"BUN13_REGISTRY_DATABASE", "BUN13_REGISTRY_BLOBS", "BUN13_REGISTRY_REDIS"} {
			if !secretEnv[k] {
				t.Errorf("%s does not come from a Secret", k)
			}
		}
	} else {
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("single: replicas %v strategy %s", d.Spec.Replicas, d.Spec.Strategy.Type)
		}
		found := false
		for _, v := range pod.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && r.pvc != nil && v.PersistentVolumeClaim.ClaimName == r.pvc.Name {
				found = true
			}
		}
		if !found {
			t.Error("single mode does not mount its PersistentVolumeClaim")
		}
	}

	// The Service reaches the pods on the container's named port.
	if !reflect.DeepEqual(r.service.Spec.Selector, d.Spec.Selector.MatchLabels) || !reflect.DeepEqual(pod.Labels, d.Spec.Selector.MatchLabels) {
		t.Errorf("service selector %v, pod labels %v, deployment selector %v", r.service.Spec.Selector, pod.Labels, d.Spec.Selector.MatchLabels)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || r.service.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("ports: container %v, service %v", c.Ports, r.service.Spec.Ports)
	}
	if r.ingress.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != r.service.Name {
		t.Errorf("ingress backend %v", r.ingress.Spec.Rules[0].HTTP.Paths[0].Backend)
	}
	if r.sm.Spec.Endpoints[0].Port != "http" || r.sm.Spec.Endpoints[0].Path != "/metrics" || !reflect.DeepEqual(r.sm.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels) {
		t.Errorf("service monitor %+v", r.sm.Spec)
	}

	// Probes: liveness and readiness on the server's routes, by port name.
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "http" {
			t.Fatalf("%s probe %+v", name, p)
		}
	}
	if c.LivenessProbe.HTTPGet.Path != "/-/healthz" || c.ReadinessProbe.HTTPGet.Path != "/-/readyz" {
		t.Errorf("probes: liveness %s readiness %s", c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
	}

	// Security context.
	ps := pod.Spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v", ps)
	}
	cs := c.SecurityContext
	if cs == nil || cs.RunAsNonRoot == nil || !*cs.RunAsNonRoot || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem ||
		cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation || cs.Capabilities == nil ||
		!reflect.DeepEqual(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) != 0 ||
		cs.SeccompProfile == nil || cs.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container security context %+v", cs)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v", c.Resources)
	}

	// The ConfigMap carries a valid BUN1 lockfile, mounted as a directory
	// (no subPath: a subPath mount never sees updates).
	lf, err := lockfile.Decode(r.cm.BinaryData["bun.lockb"])
	if err != nil {
		t.Fatalf("ConfigMap binaryData bun.lockb: %v", err)
	}
	if !lf.Config.Valid() {
		t.Errorf("ConfigMap config invalid: %+v", lf.Config)
	}
	cfgVol := ""
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == r.cm.Name {
			cfgVol = v.Name
		}
	}
	lockArg := flagValue(c.Args, "--lockfile")
	mounted := false
	for _, m := range c.VolumeMounts {
		if m.Name == cfgVol {
			mounted = m.SubPath == "" && m.ReadOnly && filepath.Join(m.MountPath, "bun.lockb") == lockArg
		}
	}
	if cfgVol == "" || !mounted {
		t.Errorf("the ConfigMap is not mounted read-only as the directory of --lockfile=%s: %+v", lockArg, c.VolumeMounts)
	}

	// The six alert rules, as the fixture has them.
	var fixture struct {
		Groups []monitoringv1.RuleGroup `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(rules, &fixture); err != nil {
		t.Fatal(err)
	}
	var alerts []string
	for _, g := range r.rule.Spec.Groups {
		for _, rl := range g.Rules {
			alerts = append(alerts, rl.Alert)
		}
	}
	if len(alerts) != 6 || !reflect.DeepEqual(r.rule.Spec.Groups, fixture.Groups) {
		t.Errorf("PrometheusRule alerts %v; equal to fixtures/prometheus/rules.yml: %v", alerts, reflect.DeepEqual(r.rule.Spec.Groups, fixture.Groups))
	}
}

// flagValue returns the value of --name=V or --name V in args.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// testSecrets are the values of the distributed mode's Secret keys: the
// test servers of .ci/services (a fresh database, a bucket prefix of
// its own).
func testSecrets(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"database-url":          pgtemp.New(t),
		"blobs-url":             s3temp.New(t, "helm"),
		"redis-url":             testenv.Getenv(t, "BUN13_TEST_REDIS", "a Redis server", "source .ci/services (or .ci/services -- go test ...)"),
		"aws-access-key-id":     os.Getenv("AWS_ACCESS_KEY_ID"),
		"aws-secret-access-key": os.Getenv("AWS_SECRET_ACCESS_KEY"),
	}
}

// startLikePod runs `bun13` with the container's arguments (paths moved
// into a temp dir, the port onto a free one) and the environment it sets
// (Secret references resolved from secrets, keyed by the Secret's key;
// left out when secrets is nil), then GETs the probes' paths. Serve
// refuses an unknown flag, so the arguments are all ones it accepts; in
// the distributed mode, readiness means the database and the blob store
// answer.
func startLikePod(t *testing.T, bin string, r *rendered, secrets map[string]string) {
	t.Helper()
	c := r.deploy.Spec.Template.Spec.Containers[0]
	if len(c.Args) < 2 || c.Args[0] != "registry" || c.Args[1] != "serve" {
		t.Fatalf("args %v: want registry serve ...", c.Args)
	}
	if len(c.Command) != 0 {
		t.Fatalf("command %v: the image's entrypoint is bun13", c.Command)
	}
	mounts := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = true
	}
	dir := t.TempDir()
	port := freePort(t)
	args := slices.Clone(c.Args)
	for i, a := range args {
		name, val, ok := strings.Cut(a, "=")
		if !ok {
			continue
		}
		switch name {
		case "--addr":
			_, p, err := net.SplitHostPort(val)
			if err != nil || p != fmt.Sprint(c.Ports[0].ContainerPort) {
				t.Errorf("--addr=%s does not listen on the container port %d", val, c.Ports[0].ContainerPort)
			}
			args[i] = "--addr=127.0.0.1:" + port
		case "--data", "--lockfile", "--key-file":
			if !mounts[val] && !mounts[filepath.Dir(val)] {
				t.Errorf("%s=%s is on no volume (read-only root filesystem)", name, val)
			}
			local := filepath.Join(dir, strings.TrimPrefix(val, "/"))
			os.MkdirAll(filepath.Dir(local), 0o755)
			switch name {
			case "--lockfile":
				if err := os.WriteFile(local, r.cm.BinaryData["bun.lockb"], 0o644); err != nil {
					t.Fatal(err)
				}
			case "--key-file":
				if _, err := auth.GenerateKeyFile(local); err != nil {
					t.Fatal(err)
				}
			}
			args[i] = name + "=" + local
		}
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.SecretKeyRef != nil && secrets != nil:
			v, ok := secrets[e.ValueFrom.SecretKeyRef.Key]
			if !ok {
				t.Errorf("env %s reads Secret key %q, which the distributed mode does not document", e.Name, e.ValueFrom.SecretKeyRef.Key)
			}
			env = append(env, e.Name+"="+v)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			env = append(env, e.Name+"=reg-bun13-0")
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var logs lockedBuffer // written by exec's copying goroutine while the test reads it
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}()
	base := "http://127.0.0.1:" + port
	deadline := time.Now().Add(30 * time.Second)
	for status(base+c.ReadinessProbe.HTTPGet.Path) != http.StatusOK {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("bun13 %s exited: %v\n%s", strings.Join(args, " "), err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness probe %s never answered 200\n%s", c.ReadinessProbe.HTTPGet.Path, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.StartupProbe} {
		if s := status(base + p.HTTPGet.Path); s != http.StatusOK {
			t.Errorf("probe %s: %d", p.HTTPGet.Path, s)
		}
	}
	if secrets != nil && !strings.Contains(logs.String(), `"msg":"distributed mode"`) {
		t.Errorf("the distributed chart's pod did not start in the distributed mode:\n%s", logs.String())
	}
	if s := status(base + r.sm.Spec.Endpoints[0].Path); s != http.StatusOK {
		t.Errorf("ServiceMonitor path %s: %d (METRICS on in the chart's lockfile?)", r.sm.Spec.Endpoints[0].Path, s)
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
