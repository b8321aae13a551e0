package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/cairndb/cairn/internal/metrics"
)

// manifests are the decoded objects of deploy/k8s, by kind and name.
type manifests struct {
	namespaces   map[string]*corev1.Namespace
	configMaps   map[string]*corev1.ConfigMap
	services     map[string]*corev1.Service
	statefulSets map[string]*appsv1.StatefulSet
	deployments  map[string]*appsv1.Deployment
	pdbs         map[string]*policyv1.PodDisruptionBudget
	hpas         map[string]*autoscalingv2.HorizontalPodAutoscaler
	netpols      map[string]*networkingv1.NetworkPolicy
	namespaced   []metav1.Object
}

// readManifests decodes every document of the files kustomization.yaml
// lists into the Kubernetes API's own types, strictly: an unknown or
// misplaced field is an error, as kubectl's server-side validation makes it.
func readManifests(t *testing.T) *manifests {
	t.Helper()
	var kust struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	b, err := os.ReadFile("k8s/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	// Every manifest beside it is listed (none is forgotten by apply -k).
	files, _ := filepath.Glob("k8s/*.yaml")
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(kust.Resources, base) {
			t.Errorf("k8s/%s is not in kustomization.yaml's resources", base)
		}
	}
	m := &manifests{namespaces: map[string]*corev1.Namespace{}, configMaps: map[string]*corev1.ConfigMap{}, services: map[string]*corev1.Service{},
		statefulSets: map[string]*appsv1.StatefulSet{}, deployments: map[string]*appsv1.Deployment{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{}, netpols: map[string]*networkingv1.NetworkPolicy{}}
	for _, res := range kust.Resources {
		b, err := os.ReadFile(filepath.Join("k8s", res))
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(b), "\n---\n") {
			if err := m.add(doc); err != nil {
				t.Errorf("k8s/%s document %d: %v", res, i+1, err)
			}
		}
	}
	return m
}

func (m *manifests) add(doc string) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
		return err
	}
	var obj metav1.Object
	var apiVersion string
	var keep func()
	switch tm.Kind {
	case "Namespace":
		o := &corev1.Namespace{}
		obj, apiVersion, keep = o, "v1", func() { m.namespaces[o.Name] = o }
	case "ConfigMap":
		o := &corev1.ConfigMap{}
		obj, apiVersion, keep = o, "v1", func() { m.configMaps[o.Name] = o }
	case "Service":
		o := &corev1.Service{}
		obj, apiVersion, keep = o, "v1", func() { m.services[o.Name] = o }
	case "StatefulSet":
		o := &appsv1.StatefulSet{}
		obj, apiVersion, keep = o, "apps/v1", func() { m.statefulSets[o.Name] = o }
	case "Deployment":
		o := &appsv1.Deployment{}
		obj, apiVersion, keep = o, "apps/v1", func() { m.deployments[o.Name] = o }
	case "PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		obj, apiVersion, keep = o, "policy/v1", func() { m.pdbs[o.Name] = o }
	case "HorizontalPodAutoscaler":
		o := &autoscalingv2.HorizontalPodAutoscaler{}
		obj, apiVersion, keep = o, "autoscaling/v2", func() { m.hpas[o.Name] = o }
	case "NetworkPolicy":
		o := &networkingv1.NetworkPolicy{}
		obj, apiVersion, keep = o, "networking.k8s.io/v1", func() { m.netpols[o.Name] = o }
	default:
		return fmt.Errorf("unexpected kind %q", tm.Kind)
	}
	if tm.APIVersion != apiVersion {
		return fmt.Errorf("%s has apiVersion %s, want %s", tm.Kind, tm.APIVersion, apiVersion)
	}
	if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
		return fmt.Errorf("%s: %v", tm.Kind, err)
	}
	if obj.GetName() == "" {
		return fmt.Errorf("%s without a name", tm.Kind)
	}
	keep()
	if tm.Kind != "Namespace" {
		m.namespaced = append(m.namespaced, obj)
	}
	return nil
}

func TestKubernetes(t *testing.T) {
	m := readManifests(t)
	if t.Failed() {
		t.FailNow()
	}
	if len(m.namespaces) != 1 {
		t.Fatalf("want one Namespace, got %d", len(m.namespaces))
	}
	var ns string
	for ns = range m.namespaces {
	}
	if m.namespaces[ns].Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace %s does not enforce the restricted Pod Security Standard", ns)
	}
	for _, o := range m.namespaced {
		if o.GetNamespace() != ns {
			t.Errorf("%s is in namespace %q, want %q", o.GetName(), o.GetNamespace(), ns)
		}
	}
	sts, dep := m.statefulSets["cairn"], m.deployments["cairn-compute"]
	if sts == nil || dep == nil {
		t.Fatalf("want StatefulSet cairn and Deployment cairn-compute, got %d and %d", len(m.statefulSets), len(m.deployments))
	}
	if !selects(sts.Spec.Selector, sts.Spec.Template.Labels) || !selects(dep.Spec.Selector, dep.Spec.Template.Labels) {
		t.Error("a workload's selector does not select its own pods")
	}
	if selects(sts.Spec.Selector, dep.Spec.Template.Labels) || selects(dep.Spec.Selector, sts.Spec.Template.Labels) {
		t.Error("the data and compute workloads select each other's pods")
	}
	data := checkPodSpec(t, m, "StatefulSet cairn", sts.Spec.Template, "data")
	compute := checkPodSpec(t, m, "Deployment cairn-compute", dep.Spec.Template, "compute")

	// Data nodes: stable names from the headless service, used for
	// --advertise-host, --join and --bootstrap-node; a volume per pod.
	svc := m.services[sts.Spec.ServiceName]
	if svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses {
		t.Errorf("StatefulSet cairn's serviceName %q is not a headless Service that publishes not-ready pods", sts.Spec.ServiceName)
	} else if !selectorSelects(svc.Spec.Selector, sts.Spec.Template.Labels) {
		t.Errorf("Service %s does not select the StatefulSet's pods", svc.Name)
	}
	domain := fmt.Sprintf("%s.%s.svc.cluster.local", sts.Spec.ServiceName, ns)
	if want := "$(POD_NAME)." + domain; data.args.one("advertise-host") != want {
		t.Errorf("data --advertise-host %q, want %q (its stable DNS name)", data.args.one("advertise-host"), want)
	}
	if data.args.one("node-id") != "$(POD_NAME)" {
		t.Errorf("data --node-id %q, want $(POD_NAME) (the stable pod name)", data.args.one("node-id"))
	}
	replicas := int(*sts.Spec.Replicas)
	if replicas < 3 {
		t.Errorf("%d data nodes: three replicas per shard need at least 3", replicas)
	}
	var wantJoin []string
	for i := range replicas {
		wantJoin = append(wantJoin, fmt.Sprintf("%s-%d.%s:%s", sts.Name, i, domain, data.clusterPort))
	}
	if got := data.args.one("join"); got != strings.Join(wantJoin, ",") {
		t.Errorf("data --join %q, want every data pod's cluster address %q", got, strings.Join(wantJoin, ","))
	}
	if got := data.args.one("bootstrap-node"); got != sts.Name+"-0" {
		t.Errorf("data --bootstrap-node %q, want %s-0", got, sts.Name)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy %q: after a full stop no pod is ready without a quorum, so pods must start in parallel", sts.Spec.PodManagementPolicy)
	}
	claimMounted := false
	for _, vct := range sts.Spec.VolumeClaimTemplates {
		if data.mounts[vct.Name] == data.args.one("data-dir") {
			claimMounted = true
		}
	}
	if !claimMounted {
		t.Errorf("no volumeClaimTemplate is mounted at --data-dir %s", data.args.one("data-dir"))
	}
	if compute.args.one("join") != data.args.one("join") || compute.args.one("bootstrap-node") != "" {
		t.Errorf("compute nodes join through the data nodes (--join %q) and never bootstrap", compute.args.one("join"))
	}
	if compute.args.one("advertise-host") != "$(POD_IP)" {
		t.Errorf("compute --advertise-host %q, want $(POD_IP): a Deployment's pods have no stable DNS name", compute.args.one("advertise-host"))
	}

	// PodDisruptionBudget: one data pod at a time, compute pods not held.
	pdb := m.pdbs["cairn"]
	if pdb == nil || pdb.Spec.MaxUnavailable == nil || *pdb.Spec.MaxUnavailable != intstr.FromInt32(1) {
		t.Errorf("want PodDisruptionBudget cairn with maxUnavailable 1, got %+v", pdb)
	} else if !selects(pdb.Spec.Selector, sts.Spec.Template.Labels) || selects(pdb.Spec.Selector, dep.Spec.Template.Labels) {
		t.Error("the PodDisruptionBudget does not select exactly the data pods")
	}

	// Services: each selects pods, and each port is a named port of them.
	for name, s := range m.services {
		var pods []podInfo
		for _, pi := range []podInfo{data, compute} {
			if selectorSelects(s.Spec.Selector, pi.labels) {
				pods = append(pods, pi)
			}
		}
		if len(pods) == 0 {
			t.Errorf("Service %s selects no pods", name)
		}
		for _, sp := range s.Spec.Ports {
			for _, pi := range pods {
				cp, ok := pi.ports[sp.TargetPort.String()]
				if !ok || cp != sp.Port {
					t.Errorf("Service %s port %s (%d → %s) is not the %s pods' port (%d)", name, sp.Name, sp.Port, sp.TargetPort.String(), pi.role, cp)
				}
			}
		}
	}
	if cl := m.services["cairn"]; cl == nil || !selectorSelects(cl.Spec.Selector, data.labels) || !selectorSelects(cl.Spec.Selector, compute.labels) {
		t.Error("the client Service cairn must reach data and compute nodes (both serve SQL)")
	}

	checkHPA(t, m, dep)
	checkNetworkPolicy(t, m, data, compute)
}

// podInfo is what checkPodSpec learned about a pod template.
type podInfo struct {
	role        string
	labels      map[string]string
	args        parsedArgs
	ports       map[string]int32 // container port by name
	mounts      map[string]string
	clusterPort string
}

func checkPodSpec(t *testing.T, m *manifests, where string, tmpl corev1.PodTemplateSpec, role string) podInfo {
	t.Helper()
	spec := tmpl.Spec
	pi := podInfo{role: role, labels: tmpl.Labels, ports: map[string]int32{}, mounts: map[string]string{}}
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: want one container, got %d", where, len(spec.Containers))
	}
	c := spec.Containers[0]
	pi.args = parseArgs(c.Args)
	where += " container " + c.Name
	if len(pi.args.words) != 1 || pi.args.words[0] != "start" || len(c.Command) != 0 {
		t.Errorf("%s: args %q, want the image's cairn with start", where, c.Args)
	}
	checkFlags(t, where, pi.args, "start")
	if pi.args.one("role") != role {
		t.Errorf("%s: --role %q, want %s", where, pi.args.one("role"), role)
	}

	// Environment: $(VAR) refers to a variable defined before it (args
	// may use any); the downward API gives the pod's name and IP.
	defined := map[string]bool{}
	for _, e := range c.Env {
		for _, ref := range varRefs(e.Value) {
			if !defined[ref] {
				t.Errorf("%s: env %s uses $(%s), not defined before it", where, e.Name, ref)
			}
		}
		defined[e.Name] = true
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			want := map[string]string{"POD_NAME": "metadata.name", "POD_IP": "status.podIP"}[e.Name]
			if e.ValueFrom.FieldRef.FieldPath != want {
				t.Errorf("%s: env %s from %s, want %s", where, e.Name, e.ValueFrom.FieldRef.FieldPath, want)
			}
		}
	}
	for _, a := range c.Args {
		for _, ref := range varRefs(a) {
			if !defined[ref] {
				t.Errorf("%s: arg %s uses $(%s), which the container does not define", where, a, ref)
			}
		}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}

	// The config file comes from the ConfigMap, and its keys are flags.
	settings := checkConfigFile(t, m, where, spec, c, pi.args.one("config"))
	insecure := settings["insecure"] == true || pi.args.one("insecure") == "true"
	if !insecure && pi.args.one("certs-dir") == "" {
		t.Errorf("%s: listens on 0.0.0.0 without --certs-dir or insecure", where)
	}

	// Ports: named container ports at the ports of the address flags.
	for _, p := range c.Ports {
		pi.ports[p.Name] = p.ContainerPort
	}
	for name, flag := range map[string]string{"pg": "pg-addr", "http": "http-addr", "cluster": "cluster-addr"} {
		addr := pi.args.one(flag)
		if fmt.Sprint(pi.ports[name]) != portOf(addr) || !strings.HasPrefix(addr, "0.0.0.0:") {
			t.Errorf("%s: container port %s is %d, --%s %q (want 0.0.0.0 and the same port)", where, name, pi.ports[name], flag, addr)
		}
	}
	pi.clusterPort = portOf(pi.args.one("cluster-addr"))
	httpPort := portOf(pi.args.one("http-addr"))

	// Probes: ready on /ready, alive on /health, at the HTTP port.
	scheme := corev1.URISchemeHTTP
	if !insecure {
		scheme = corev1.URISchemeHTTPS
	}
	for _, pr := range []struct {
		kind, path string
		p          *corev1.Probe
	}{{"readiness", "/ready", c.ReadinessProbe}, {"liveness", "/health", c.LivenessProbe}} {
		if pr.p == nil || pr.p.HTTPGet == nil {
			t.Errorf("%s: no HTTP %s probe", where, pr.kind)
			continue
		}
		g := pr.p.HTTPGet
		port := g.Port.String()
		if g.Port.Type == intstr.String {
			port = fmt.Sprint(pi.ports[port])
		}
		if g.Path != pr.path || port != httpPort || cmpScheme(g.Scheme) != scheme {
			t.Errorf("%s: %s probe %s %s on port %s, want %s %s on the HTTP port %s", where, pr.kind, g.Scheme, g.Path, g.Port.String(), scheme, pr.path, httpPort)
		}
	}
	if c.LivenessProbe != nil && c.ReadinessProbe != nil {
		// A node without a quorum is not ready, but alive: liveness must
		// not restart it while it waits for the others.
		if c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path == "/ready" {
			t.Errorf("%s: liveness on /ready would restart nodes that wait for a quorum", where)
		}
	}

	// preStop drains this node (CAIRN_NODE_ID) through its own HTTP API
	// on loopback, within the grace period.
	var drain time.Duration
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Exec == nil {
		t.Errorf("%s: no preStop exec hook", where)
	} else {
		cmd := c.Lifecycle.PreStop.Exec.Command
		hp := parseArgs(cmd)
		if len(hp.words) != 3 || !strings.HasSuffix(hp.words[0], "/cairn") || hp.words[1] != "node" || hp.words[2] != "drain" || hp.one("wait") != "true" {
			t.Errorf("%s: preStop %q, want cairn node drain --wait (the node from CAIRN_NODE_ID)", where, cmd)
		}
		checkFlags(t, where+" preStop", hp, "node", "drain")
		var err error
		if drain, err = time.ParseDuration(hp.one("timeout")); err != nil {
			t.Errorf("%s: preStop --timeout: %v", where, err)
		}
		if env["CAIRN_NODE_ID"] != pi.args.one("node-id") {
			t.Errorf("%s: CAIRN_NODE_ID %q is not --node-id %q: the hook would drain another node", where, env["CAIRN_NODE_ID"], pi.args.one("node-id"))
		}
		if host := env["CAIRN_HOST"]; host != "127.0.0.1:"+httpPort {
			t.Errorf("%s: CAIRN_HOST %q, want 127.0.0.1:%s (loopback: an insecure node trusts it as cairn)", where, host, httpPort)
		}
	}
	grace := time.Duration(0)
	if spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}
	if grace < drain+handOff+closeMargin {
		t.Errorf("%s: terminationGracePeriodSeconds %s is not longer than the drain (%s) plus hand-off and close", where, grace, drain)
	}

	// Kubernetes would put CAIRN_SERVICE_HOST, CAIRN_PORT… in the
	// environment for the Service cairn, and cairn start reads CAIRN_*.
	if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
		t.Errorf("%s: enableServiceLinks must be false: the Service cairn's variables are named like cairn's settings (CAIRN_*)", where)
	}

	// Non-root, read-only, nothing extra.
	psc, csc := spec.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != runtimeUID ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: the pod must run as non-root user %d with the RuntimeDefault seccomp profile", where, runtimeUID)
	}
	if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation || csc.ReadOnlyRootFilesystem == nil ||
		!*csc.ReadOnlyRootFilesystem || csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
		t.Errorf("%s: the container must not escalate, must drop ALL capabilities and have a read-only root", where)
	}
	if c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: no memory limit (max-memory is a share of it)", where)
	}

	// Mounts: every one names a volume (or a claim template); /tmp and the
	// data dir are writable.
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	for _, vm := range c.VolumeMounts {
		pi.mounts[vm.Name] = vm.MountPath
		if vm.MountPath == "/tmp" || vm.MountPath == pi.args.one("data-dir") {
			if vm.ReadOnly {
				t.Errorf("%s: %s is read-only", where, vm.MountPath)
			}
		}
	}
	if _, ok := pi.mounts["tmp"]; !ok || vols["tmp"].EmptyDir == nil {
		t.Errorf("%s: a read-only root needs a writable /tmp (emptyDir)", where)
	}
	dataMounted := false
	for name, path := range pi.mounts {
		if path == pi.args.one("data-dir") {
			dataMounted = true
		}
		if _, ok := vols[name]; !ok && name != "data" {
			t.Errorf("%s: mount %s names no volume", where, name)
		}
	}
	if !dataMounted {
		t.Errorf("%s: nothing is mounted at --data-dir %s", where, pi.args.one("data-dir"))
	}
	if c.Image != "cairn:dev" {
		t.Errorf("%s: image %q, want cairn:dev (the Dockerfile's, as in compose.yaml)", where, c.Image)
	}
	return pi
}

func cmpScheme(s corev1.URIScheme) corev1.URIScheme {
	if s == "" {
		return corev1.URISchemeHTTP
	}
	return s
}

// varRefs returns the names of the $(VAR) references in s.
func varRefs(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "$(")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i:], ")")
		if j < 0 {
			return out
		}
		out = append(out, s[i+2:i+j])
		s = s[i+j:]
	}
}

// checkConfigFile checks that --config is a file of a mounted ConfigMap
// and that every key of its TOML is a cairn start flag; it returns them.
func checkConfigFile(t *testing.T, m *manifests, where string, spec corev1.PodSpec, c corev1.Container, path string) map[string]any {
	t.Helper()
	if path == "" {
		t.Errorf("%s: no --config", where)
		return nil
	}
	for _, vm := range c.VolumeMounts {
		key, ok := strings.CutPrefix(path, vm.MountPath+"/")
		if !ok {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			cm := m.configMaps[v.ConfigMap.Name]
			if cm == nil {
				t.Errorf("%s: ConfigMap %s does not exist", where, v.ConfigMap.Name)
				return nil
			}
			text, ok := cm.Data[key]
			if !ok {
				t.Errorf("%s: --config %s: ConfigMap %s has no key %s", where, path, cm.Name, key)
				return nil
			}
			settings := map[string]any{}
			if _, err := toml.Decode(text, &settings); err != nil {
				t.Errorf("ConfigMap %s %s: %v", cm.Name, key, err)
			}
			start := commandFlags(t, "start")
			for k := range settings {
				if !start.flags[strings.ReplaceAll(k, "_", "-")] {
					t.Errorf("ConfigMap %s %s: %q is not a cairn start flag", cm.Name, key, k)
				}
			}
			return settings
		}
	}
	t.Errorf("%s: --config %s is not in a mounted ConfigMap", where, path)
	return nil
}

func selects(sel *metav1.LabelSelector, lbls map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && sel != nil && !s.Empty() && s.Matches(labels.Set(lbls))
}

func selectorSelects(sel map[string]string, lbls map[string]string) bool {
	return len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(lbls))
}

// checkHPA checks that the autoscaler scales the compute Deployment on a
// metric Cairn exports, served by the prometheus-adapter rule shipped.
func checkHPA(t *testing.T, m *manifests, dep *appsv1.Deployment) {
	t.Helper()
	hpa := m.hpas["cairn-compute"]
	if hpa == nil {
		t.Fatal("no HorizontalPodAutoscaler cairn-compute")
	}
	ref := hpa.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != dep.Name {
		t.Errorf("the HPA scales %s %s, want Deployment %s", ref.Kind, ref.Name, dep.Name)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 1 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
		t.Errorf("HPA replicas %v..%d", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}
	if len(hpa.Spec.Metrics) != 1 || hpa.Spec.Metrics[0].Type != autoscalingv2.ExternalMetricSourceType || hpa.Spec.Metrics[0].External == nil {
		t.Fatalf("HPA metrics %+v, want one External metric", hpa.Spec.Metrics)
	}
	name := hpa.Spec.Metrics[0].External.Metric.Name
	if !cairnMetricExists(t, name) {
		t.Errorf("the HPA scales on %s, which internal/metrics does not define", name)
	}
	if !strings.Contains(name, "scheduled_view_lag") {
		t.Errorf("the HPA scales on %s, want the scheduled-view lag", name)
	}
	var values struct {
		Rules struct {
			Default  bool `json:"default"`
			External []struct {
				SeriesQuery string `json:"seriesQuery"`
				Resources   struct {
					Overrides map[string]struct {
						Resource string `json:"resource"`
					} `json:"overrides"`
				} `json:"resources"`
				Name struct {
					As string `json:"as"`
				} `json:"name"`
				MetricsQuery string `json:"metricsQuery"`
			} `json:"external"`
		} `json:"rules"`
	}
	b, err := os.ReadFile("k8s/prometheus-adapter/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &values); err != nil {
		t.Fatalf("prometheus-adapter/values.yaml: %v", err)
	}
	served := false
	for _, r := range values.Rules.External {
		if r.Name.As == name && strings.HasPrefix(r.SeriesQuery, name+"{") && strings.Contains(r.MetricsQuery, "<<.Series>>") &&
			r.Resources.Overrides["namespace"].Resource == "namespace" {
			served = true
		}
	}
	if !served {
		t.Errorf("prometheus-adapter/values.yaml has no namespaced external rule serving %s", name)
	}
}

// cairnMetricExists reports whether Cairn's registry exports name, once
// the scheduled-view collectors have a series.
func cairnMetricExists(t *testing.T, name string) bool {
	t.Helper()
	m := metrics.New()
	s := m.NewSched()
	s.SetLag("v", 1)
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return true
		}
	}
	return false
}

// checkNetworkPolicy: the cluster port only from Cairn pods, the client
// ports from anywhere.
func checkNetworkPolicy(t *testing.T, m *manifests, data, compute podInfo) {
	t.Helper()
	np := m.netpols["cairn"]
	if np == nil {
		t.Fatal("no NetworkPolicy cairn (the nodes run without TLS inside the cluster)")
	}
	if !selects(&np.Spec.PodSelector, data.labels) || !selects(&np.Spec.PodSelector, compute.labels) {
		t.Error("the NetworkPolicy does not cover data and compute pods")
	}
	open := map[string][]networkingv1.NetworkPolicyPeer{}
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			open[p.Port.String()] = rule.From
		}
	}
	from, ok := open[data.clusterPort]
	if !ok || len(from) != 1 || from[0].PodSelector == nil || !selects(from[0].PodSelector, data.labels) || !selects(from[0].PodSelector, compute.labels) ||
		from[0].NamespaceSelector != nil || from[0].IPBlock != nil {
		t.Errorf("the cluster port %s must be open to Cairn pods only, got %+v", data.clusterPort, from)
	}
	for _, name := range []string{"pg", "http"} {
		if _, ok := open[fmt.Sprint(data.ports[name])]; !ok {
			t.Errorf("the NetworkPolicy closes the %s port %d to clients", name, data.ports[name])
		}
	}
}
