// Package cluster runs the embedded cluster `make up` deploys onto: a real control plane
// (etcd embedded through its Go package, kube-apiserver, kube-controller-manager and
// kube-scheduler built from the pinned k8s.io/kubernetes) with simulated nodes and pods
// (kwok), on 127.0.0.1 only. Start builds the components once (cached by version), generates
// the certificates, starts every process in one process group with logs under Dir/logs,
// registers the nodes (two per nodegroup in two zones, plus a control-plane-like node; see
// DefaultNodes) and waits, bounded, until they are Ready. Every process is recorded in
// Dir/state.json with its start time as it starts (process.go), so Stop ends exactly those,
// newest first, also after a failed start. Apply (apply.go) installs the CRDs and server-side applies a plan.
package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// NodeGroupLabel is the label worker nodes carry (DESIGN.md "Node groups and namespaces").
const NodeGroupLabel = "node.kubernetes.io/nodegroup"

// kwokAnnotation marks the nodes kwok manages.
const kwokAnnotation = "kwok.x-k8s.io/node"

// Network ranges: nothing routes to them; they are data in the API objects only.
const (
	serviceCIDR = "10.96.0.0/16"
	serviceIP   = "10.96.0.1"
	podCIDR     = "10.244.0.0/16"
)

// Node is one simulated node.
type Node struct {
	Name string
	// NodeGroup is the node.kubernetes.io/nodegroup value; empty for the control-plane node.
	NodeGroup string
	// Zone is the topology.kubernetes.io/zone value; empty for none.
	Zone string
}

// NodeGroups are the nodegroups of DefaultNodes (DESIGN.md "Node groups and namespaces").
func NodeGroups() []string { return []string{"app", "deploy", "ingress", "system"} }

// DefaultNodes are a control-plane-like node "embedded" without a nodegroup and, per
// nodegroup, two workers embedded-<nodegroup>-1 in zone ap-northeast-1a and
// embedded-<nodegroup>-2 in ap-northeast-1c (zones of prd's EKS cluster,
// deploy/eks/cluster-prd.yaml): as in prd, losing one node of a group leaves the group
// schedulable, and topology spread over kubernetes.io/hostname (the charts' constraint) or
// topology.kubernetes.io/zone has two domains per group.
func DefaultNodes() []Node {
	zones := []string{"ap-northeast-1a", "ap-northeast-1c"}
	nodes := []Node{{Name: "embedded"}}
	for _, g := range NodeGroups() {
		for i, z := range zones {
			nodes = append(nodes, Node{Name: fmt.Sprintf("embedded-%s-%d", g, i+1), NodeGroup: g, Zone: z})
		}
	}
	return nodes
}

// Cluster is the embedded cluster whose state lives in Dir.
type Cluster struct {
	// Dir holds state, certificates, kubeconfigs, etcd data and logs (normally
	// <repo>/.cache/cluster).
	Dir string
	// Components builds and locates the binaries.
	Components *Components
	// Nodes are registered at start; nil means DefaultNodes.
	Nodes []Node
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// StartTimeout bounds each wait of Start; 0 means 2 minutes.
	StartTimeout time.Duration
}

// state is Dir/state.json: what Stop and Status need after the starting process exited.
type state struct {
	processGroup
	Ports   map[string]int `json:"ports"`
	Server  string         `json:"server"`
	Started time.Time      `json:"started"`
	// LegacyPIDs is read from a state file of an older platform, which recorded no start
	// times; never written.
	LegacyPIDs map[string]int `json:"pids,omitempty"`
}

// New is a Cluster for the repository at root with the default layout:
// state in root/.cache/cluster, binaries in root/bin/cluster.
func New(root string, log io.Writer) *Cluster {
	dir := filepath.Join(root, ".cache", "cluster")
	return &Cluster{
		Dir: dir,
		Components: &Components{
			Root:   root,
			BinDir: filepath.Join(root, "bin", "cluster"),
			LogDir: filepath.Join(dir, "logs"),
			Log:    log,
		},
		Log: log,
	}
}

// Kubeconfig is the admin kubeconfig's path.
func (c *Cluster) Kubeconfig() string { return filepath.Join(c.Dir, "kubeconfig") }

func (c *Cluster) logDir() string    { return filepath.Join(c.Dir, "logs") }
func (c *Cluster) statePath() string { return filepath.Join(c.Dir, "state.json") }
func (c *Cluster) pki() pki          { return pki{dir: filepath.Join(c.Dir, "pki")} }

func (c *Cluster) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

func (c *Cluster) nodes() []Node {
	if c.Nodes == nil {
		return DefaultNodes()
	}
	return c.Nodes
}

func (c *Cluster) timeout() time.Duration {
	if c.StartTimeout == 0 {
		return 2 * time.Minute
	}
	return c.StartTimeout
}

// StartResult tells what Start did.
type StartResult struct {
	Built          bool          // the components were built (not cached)
	AlreadyRunning bool          // a healthy cluster was running: nothing started
	StartDuration  time.Duration // from the first process to the nodes being Ready
	Server         string
	Kubeconfig     string
}

// Start builds the components if needed, then starts the cluster unless a healthy one is
// already running from Dir. On failure every started process is stopped.
func (c *Cluster) Start(ctx context.Context) (res *StartResult, err error) {
	res = &StartResult{Kubeconfig: c.Kubeconfig()}
	if st, err := c.readState(); err == nil && len(st.Processes) == len(binaries) && c.alive(st) == len(st.Processes) {
		if c.healthy(ctx, st) == nil {
			res.AlreadyRunning, res.Server = true, st.Server
			return res, nil
		}
	}
	// A stale or broken cluster from an earlier run is stopped first.
	if err := c.Stop(ctx); err != nil {
		return nil, err
	}
	if res.Built, err = c.Components.Ensure(ctx); err != nil {
		return nil, err
	}
	for _, d := range []string{c.Dir, c.logDir(), filepath.Join(c.Dir, "components")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.RemoveAll(filepath.Join(c.Dir, "etcd")); err != nil {
		return nil, err
	}
	if err := c.pki().ensure(); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	ports, err := freePorts("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok")
	if err != nil {
		return nil, err
	}
	st := &state{Ports: ports, Server: fmt.Sprintf("https://127.0.0.1:%d", ports["apiserver"]), Started: time.Now()}
	res.Server = st.Server
	if err := c.writeKubeconfigs(st.Server); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.logf("start failed; stopping what was started (logs: %s)", c.logDir())
			_ = c.stopState(context.WithoutCancel(ctx), st)
		}
	}()

	start := time.Now()
	if err := c.startComponent(st, "etcd", c.etcdArgs(st)); err != nil {
		return res, err
	}
	if err := c.waitHTTP(ctx, st, "etcd", fmt.Sprintf("http://127.0.0.1:%d/health", ports["etcd"]), nil); err != nil {
		return res, err
	}
	if err := c.startComponent(st, "kube-apiserver", c.apiserverArgs(st)); err != nil {
		return res, err
	}
	adminTLS, err := c.adminTLS()
	if err != nil {
		return res, err
	}
	if err := c.waitHTTP(ctx, st, "kube-apiserver", st.Server+"/readyz", adminTLS); err != nil {
		return res, err
	}
	for _, name := range []string{"kube-controller-manager", "kube-scheduler", "kwok"} {
		if err := c.startComponent(st, name, c.componentArgs(st, name)); err != nil {
			return res, err
		}
	}
	insecure := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // loopback health check of a self-signed component
	if err := c.waitHTTP(ctx, st, "kube-controller-manager", fmt.Sprintf("https://127.0.0.1:%d/healthz", ports["controller-manager"]), insecure); err != nil {
		return res, err
	}
	if err := c.waitHTTP(ctx, st, "kube-scheduler", fmt.Sprintf("https://127.0.0.1:%d/healthz", ports["scheduler"]), insecure); err != nil {
		return res, err
	}
	if err := c.registerNodes(ctx, st); err != nil {
		return res, err
	}
	res.StartDuration = time.Since(start)
	c.logf("cluster up in %s: %s, kubeconfig %s", res.StartDuration.Round(100*time.Millisecond), st.Server, c.Kubeconfig())
	return res, nil
}

func (c *Cluster) etcdArgs(st *state) []string {
	return []string{
		"--data-dir=" + filepath.Join(c.Dir, "etcd"),
		fmt.Sprintf("--listen-client-url=http://127.0.0.1:%d", st.Ports["etcd"]),
		fmt.Sprintf("--listen-peer-url=http://127.0.0.1:%d", st.Ports["etcd-peer"]),
	}
}

func (c *Cluster) apiserverArgs(st *state) []string {
	p := c.pki()
	return []string{
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", st.Ports["etcd"]),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", st.Ports["apiserver"]),
		"--cert-dir=" + filepath.Join(c.Dir, "components", "apiserver-certs"),
		"--tls-cert-file=" + p.path("apiserver.crt"),
		"--tls-private-key-file=" + p.path("apiserver.key"),
		"--client-ca-file=" + p.path("ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.path("sa.pub"),
		"--service-account-signing-key-file=" + p.path("sa.key"),
		"--service-cluster-ip-range=" + serviceCIDR,
		"--authorization-mode=RBAC",
		// As kubeadm and Minikube: privileged pods are a Pod Security question, not a flag.
		"--allow-privileged=true",
		// PodSecurity is in the default admission plugins; the list is not changed.
		"--profiling=false",
		"--v=1",
	}
}

func (c *Cluster) componentArgs(st *state, name string) []string {
	kc := func(n string) string { return filepath.Join(c.Dir, "components", n+".kubeconfig") }
	switch name {
	case "kube-controller-manager":
		p := c.pki()
		return []string{
			"--kubeconfig=" + kc("controller-manager"),
			"--authentication-kubeconfig=" + kc("controller-manager"),
			"--authorization-kubeconfig=" + kc("controller-manager"),
			"--bind-address=127.0.0.1",
			fmt.Sprintf("--secure-port=%d", st.Ports["controller-manager"]),
			"--cert-dir=" + filepath.Join(c.Dir, "components", "controller-manager-certs"),
			"--service-account-private-key-file=" + p.path("sa.key"),
			"--root-ca-file=" + p.path("ca.crt"),
			"--cluster-signing-cert-file=" + p.path("ca.crt"),
			"--cluster-signing-key-file=" + p.path("ca.key"),
			"--use-service-account-credentials=true",
			"--service-cluster-ip-range=" + serviceCIDR,
			"--leader-elect=false",
			// Pods bound to a deleted node (node loss) are deleted by the pod GC controller,
			// which runs by default; its period (20 s) and the quarantine of a missing node
			// (40 s) are constants, not flags: replacements start 40-80 s after the loss.
			// Claims bound by Apply's pre-bound volumes are noticed in seconds, not 15 s.
			"--pvclaimbinder-sync-period=2s",
			"--profiling=false",
			"--v=1",
		}
	case "kube-scheduler":
		return []string{
			"--kubeconfig=" + kc("scheduler"),
			"--authentication-kubeconfig=" + kc("scheduler"),
			"--authorization-kubeconfig=" + kc("scheduler"),
			"--bind-address=127.0.0.1",
			fmt.Sprintf("--secure-port=%d", st.Ports["scheduler"]),
			"--leader-elect=false",
			"--profiling=false",
			"--v=1",
		}
	case "kwok":
		return []string{
			"--kubeconfig=" + kc("kwok"),
			"--config=" + c.Components.Path(kwokStagesFile),
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=" + kwokAnnotation + "=fake",
			fmt.Sprintf("--server-address=127.0.0.1:%d", st.Ports["kwok"]),
			"--node-ip=127.0.0.1",
			"--cidr=" + podCIDR,
		}
	}
	return nil
}

func (c *Cluster) writeKubeconfigs(server string) error {
	p := c.pki()
	if err := os.WriteFile(c.Kubeconfig(), []byte(p.kubeconfig(server, "admin")), 0o600); err != nil {
		return err
	}
	for _, id := range clients[1:] {
		path := filepath.Join(c.Dir, "components", id.name+".kubeconfig")
		if err := os.WriteFile(path, []byte(p.kubeconfig(server, id.name)), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// startComponent starts one process in the cluster's process group (the first one
// founds it), stdout and stderr to Dir/logs/<name>.log, and records it in the state file.
func (c *Cluster) startComponent(st *state, name string, args []string) error {
	_, err := st.start(processSpec{
		Name: name, Exe: c.Components.Path(name), Args: args, Dir: c.Dir, Env: componentEnv(),
		Log: filepath.Join(c.logDir(), name+".log"),
	}, func() error { return c.writeState(st) })
	return err
}

// componentEnv is the environment without anything that would point a component at
// another cluster.
func componentEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KUBECONFIG=") || strings.HasPrefix(kv, "KUBERNETES_SERVICE_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (c *Cluster) adminTLS() (*tls.Config, error) {
	p := c.pki()
	caPEM, err := os.ReadFile(p.path("ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(p.path("admin.crt"), p.path("admin.key"))
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// waitHTTP polls url until it answers 200, the component exits, or the start timeout passes.
func (c *Cluster) waitHTTP(ctx context.Context, st *state, name, url string, tlsConfig *tls.Config) error {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(c.timeout())
	var last string
	for attempt := 0; attempt < 1000 && time.Now().Before(deadline); attempt++ {
		if !st.running(name) {
			return fmt.Errorf("%s exited during start-up:\n%s", name, c.logTail(name, 15))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not healthy after %s (last: %s):\n%s", name, c.timeout(), last, c.logTail(name, 15))
}

func (c *Cluster) logTail(name string, n int) string {
	b, err := os.ReadFile(filepath.Join(c.logDir(), name+".log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// RESTConfig is the admin client configuration.
func (c *Cluster) RESTConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

// registerNodes creates the kwok nodes, then waits (bounded) until kwok reports them Ready
// and the controller manager created the default ServiceAccount (pods can be admitted).
func (c *Cluster) registerNodes(ctx context.Context, st *state) error {
	cfg, err := c.RESTConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, n := range c.nodes() {
		node := kwokNode(n)
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create node %s: %w", n.Name, err)
		}
	}
	deadline := time.Now().Add(c.timeout())
	for attempt := 0; ; attempt++ {
		notReady, err := c.notReady(ctx, cs)
		if err == nil && len(notReady) == 0 {
			_, err = cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
			if err == nil {
				return nil
			}
			notReady = []string{"(ServiceAccount default/default)"}
		}
		if attempt > 1000 || time.Now().After(deadline) {
			return fmt.Errorf("nodes not ready after %s: %v %v:\n%s", c.timeout(), notReady, err, c.logTail("kwok", 15))
		}
		if !st.running("kwok") {
			return fmt.Errorf("kwok exited during start-up:\n%s", c.logTail("kwok", 15))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (c *Cluster) notReady(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	ready := map[string]bool{}
	for _, n := range list.Items {
		ready[n.Name] = nodeReady(&n)
	}
	var out []string
	for _, n := range c.nodes() {
		if !ready[n.Name] {
			out = append(out, n.Name)
		}
	}
	return out, nil
}

func nodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// kwokNode is a node kwok manages; its capacity is generous so that placement, not
// resources, decides where pods go.
func kwokNode(n Node) *corev1.Node {
	labels := map[string]string{
		"kubernetes.io/hostname": n.Name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     "amd64",
		"type":                   "kwok",
	}
	if n.Zone != "" {
		labels[corev1.LabelTopologyZone] = n.Zone
	}
	if n.NodeGroup != "" {
		labels[NodeGroupLabel] = n.NodeGroup
	} else {
		labels["node-role.kubernetes.io/control-plane"] = ""
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("16"),
		corev1.ResourceMemory:           resource.MustParse("64Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        n.Name,
			Labels:      labels,
			Annotations: map[string]string{kwokAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
		},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion:  KubernetesVersion,
				OperatingSystem: "linux",
				Architecture:    "amd64",
			},
		},
	}
}

// Stop ends the cluster's processes, newest first (clients, then the apiserver, whose
// graceful shutdown hangs without etcd, then etcd): SIGTERM, SIGKILL after a bounded wait,
// then whatever is left of their process group. It signals only the processes recorded
// with their start time (PIDs are reused). Stopping a cluster that is not running is not
// an error.
func (c *Cluster) Stop(ctx context.Context) error {
	st, err := c.readState()
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.stopState(ctx, st)
}

func (c *Cluster) stopState(ctx context.Context, st *state) error {
	if len(st.LegacyPIDs) > 0 && len(st.Processes) == 0 {
		c.logf("%s", legacyWarning(c.statePath(), st.LegacyPIDs))
	}
	grace := func(name string) time.Duration {
		if name == "kube-apiserver" {
			return 15 * time.Second
		}
		return 5 * time.Second
	}
	if _, err := st.stop(ctx, grace, c.logf); err != nil {
		return fmt.Errorf("stop the embedded cluster: %w", err)
	}
	if err := os.Remove(c.statePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.RemoveAll(filepath.Join(c.Dir, "etcd"))
}

// alive counts the recorded processes that still run.
func (c *Cluster) alive(st *state) int {
	n := 0
	for _, p := range st.Processes {
		if p.Running() {
			n++
		}
	}
	return n
}

func (c *Cluster) readState() (*state, error) {
	b, err := os.ReadFile(c.statePath())
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", c.statePath(), err)
	}
	return &st, nil
}

func (c *Cluster) writeState(st *state) error { return writeStateFile(c.statePath(), st) }

// healthy checks the apiserver's /readyz.
func (c *Cluster) healthy(ctx context.Context, st *state) error {
	tlsConfig, err := c.adminTLS()
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.Server+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz: %s", resp.Status)
	}
	return nil
}

// freePorts reserves distinct free loopback ports (the listeners are closed just before
// the components bind them).
func freePorts(names ...string) (map[string]int, error) {
	ports := map[string]int{}
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for _, n := range names {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports[n] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// ComponentStatus is one process of a running cluster.
type ComponentStatus struct {
	Name  string
	PID   int
	Alive bool
	Port  int
}

// NodeStatus is one node of a running cluster.
type NodeStatus struct {
	Name      string
	NodeGroup string
	Ready     bool
	Pods      int
}

// Status describes the cluster in Dir.
type Status struct {
	Running    bool
	Server     string
	Kubeconfig string
	Started    time.Time
	Components []ComponentStatus
	Nodes      []NodeStatus
	Error      string // why the API could not be asked, if it could not
}

// Status reads the state and asks the apiserver about the nodes.
func (c *Cluster) Status(ctx context.Context) (*Status, error) {
	s := &Status{Kubeconfig: c.Kubeconfig()}
	st, err := c.readState()
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	s.Server, s.Started = st.Server, st.Started
	portOf := map[string]string{"etcd": "etcd", "kube-apiserver": "apiserver", "kube-controller-manager": "controller-manager", "kube-scheduler": "scheduler", "kwok": "kwok"}
	for _, name := range binaries {
		p, _ := st.Lookup(name)
		s.Components = append(s.Components, ComponentStatus{Name: name, PID: p.PID, Alive: p.Running(), Port: st.Ports[portOf[name]]})
	}
	if err := c.healthy(ctx, st); err != nil {
		s.Error = err.Error()
		return s, nil
	}
	s.Running = true
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		s.Error = err.Error()
		return s, nil
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		s.Error = err.Error()
		return s, nil
	}
	perNode := map[string]int{}
	for _, p := range pods.Items {
		perNode[p.Spec.NodeName]++
	}
	for _, n := range nodes.Items {
		s.Nodes = append(s.Nodes, NodeStatus{Name: n.Name, NodeGroup: n.Labels[NodeGroupLabel], Ready: nodeReady(&n), Pods: perNode[n.Name]})
	}
	return s, nil
}
