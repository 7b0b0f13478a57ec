package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/microservices-manifests/microservices-manifests/pkg/ecrlocal"
	"github.com/microservices-manifests/microservices-manifests/pkg/publish"
)

// RegistrySettings are what `platform registry serve` prints: the ECR stand-in's address,
// its ECR API and the one AWS key it accepts (a random local key, not a secret of anyone's
// account), and the CA of its certificate.
var RegistrySettings = []string{"REGISTRY", "REGISTRY_ADDR", "AWS_ENDPOINT_URL_ECR", "AWS_REGION",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "SSL_CERT_FILE"}

// Registry runs the ECR stand-in (`platform registry serve`) in the background beside the
// embedded cluster: the prd path publishes into it and Argo CD's repo-server pulls from it
// by its address (127.0.0.1:PORT, a name Argo CD's helm can resolve; its certificate names
// both). `platform cluster down` stops it with the rest.
type Registry struct {
	Cluster *Cluster
	// Exe is the platform binary that serves it (os.Executable() in the CLI).
	Exe string
	// Root is the repository root (bin/registry is built there when missing).
	Root string
	Log  io.Writer
}

// RegistryState is Cluster.Dir/registry/state.json (0600: it holds the local key).
type RegistryState struct {
	processGroup
	Settings map[string]string `json:"settings"`
}

// Dir holds the registry's storage, configuration, CA and state.
func (r *Registry) Dir() string { return filepath.Join(r.Cluster.Dir, "registry") }

func (r *Registry) statePath() string { return filepath.Join(r.Dir(), "state.json") }

func (r *Registry) logPath() string { return filepath.Join(r.Cluster.logDir(), "registry.log") }

func (r *Registry) logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, format+"\n", args...)
	}
}

// Start builds the registry if needed, stops an earlier one, starts `platform registry
// serve` in its own process group, and waits (at most 60 s) until it printed its settings.
// The storage is kept across restarts, as ECR keeps what was pushed.
func (r *Registry) Start(ctx context.Context) (*RegistryState, error) {
	if _, _, err := ecrlocal.Build(ctx, filepath.Join(r.Root, "bin"), r.Log); err != nil {
		return nil, err
	}
	if err := r.Stop(ctx); err != nil {
		return nil, err
	}
	for _, d := range []string{r.Dir(), r.Cluster.logDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	st := &RegistryState{}
	if _, err := st.start(processSpec{
		Name: "registry", Exe: r.Exe, Args: []string{"--root", r.Root, "registry", "serve", "--dir", filepath.Join(r.Dir(), "data")},
		Dir: r.Dir(), Env: os.Environ(), Log: r.logPath(),
	}, func() error { return writeStateFile(r.statePath(), st) }); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st.Settings = readSettings(r.logPath())
		if len(st.Settings) == len(RegistrySettings) {
			break
		}
		if !st.running("registry") {
			return nil, fmt.Errorf("registry exited at start; log %s", r.logPath())
		}
		if time.Now().After(deadline) {
			_ = r.Stop(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("registry: no settings after 60s; log %s", r.logPath())
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
	if err := writeStateFile(r.statePath(), st); err != nil {
		return nil, err
	}
	r.logf("registry: ECR stand-in at %s (ECR API %s); log %s", st.Settings["REGISTRY_ADDR"], st.Settings["AWS_ENDPOINT_URL_ECR"], r.logPath())
	return st, nil
}

// readSettings reads the KEY=VALUE lines of RegistrySettings from the registry's log.
func readSettings(path string) map[string]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && slices.Contains(RegistrySettings, k) {
			out[k] = v
		}
	}
	return out
}

// ReadState is the running registry's state; an error wrapping os.ErrNotExist when none runs.
func (r *Registry) ReadState() (*RegistryState, error) {
	st, err := r.readState()
	if err != nil {
		return nil, err
	}
	if !st.running("registry") {
		return nil, fmt.Errorf("registry recorded in %s is not running: %w", r.statePath(), os.ErrNotExist)
	}
	return st, nil
}

// readState is the recorded state, running or not.
func (r *Registry) readState() (*RegistryState, error) {
	b, err := os.ReadFile(r.statePath())
	if err != nil {
		return nil, err
	}
	var st RegistryState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("registry state %s: %w", r.statePath(), err)
	}
	return &st, nil
}

// Stop ends the registry if one runs (SIGTERM, SIGKILL after 5 s); stopping nothing is not
// an error.
func (r *Registry) Stop(ctx context.Context) error {
	st, err := r.readState()
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	n, err := st.stop(ctx, func(string) time.Duration { return 5 * time.Second }, func(format string, args ...any) {
		r.logf("registry: "+format, args...)
	})
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if n > 0 {
		r.logf("registry: stopped")
	}
	if err := os.Remove(r.statePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Down stops the registry and drops its storage, as cluster down drops etcd's data: the
// next start is an empty registry, as a new cluster is empty.
func (r *Registry) Down(ctx context.Context) error {
	if err := r.Stop(ctx); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(r.Dir(), "data"))
}

// Repository is the OCI repository of the charts in the stand-in, by address: the path of
// production's repository (oci.repoURL of the prd Applications, e.g. .../charts) under the
// stand-in's 127.0.0.1:PORT.
func (s *RegistryState) Repository(prdRepoURL string) string {
	_, prefix, _ := strings.Cut(strings.TrimPrefix(prdRepoURL, "oci://"), "/")
	if prefix == "" {
		return s.Settings["REGISTRY_ADDR"]
	}
	return s.Settings["REGISTRY_ADDR"] + "/" + prefix
}

// Login asks the stand-in's ECR API for a registry user and password, with its key, as
// external-secrets' ECRAuthorizationToken generator does in production.
func (s *RegistryState) Login(ctx context.Context) (user, password string, err error) {
	creds := credentials.NewStaticCredentialsProvider(s.Settings["AWS_ACCESS_KEY_ID"], s.Settings["AWS_SECRET_ACCESS_KEY"], "")
	return publish.ECRLogin(ctx, s.Settings["AWS_REGION"], s.Settings["AWS_ENDPOINT_URL_ECR"], aws.NewCredentialsCache(creds))
}

// OCIRepository is the OCI repository env's Applications pull the charts of this
// repository from (the one repository of infra/ecr-credentials for env), "" when they pull
// from git (deploy/argocd/shared/parent chartSource).
func OCIRepository(root, env string) (string, error) {
	a := &ArgoCD{Root: root, Env: env}
	parent := "deploy/argocd/shared/parent"
	vals, err := a.readValues(parent+"/values.yaml", parent+"/values-"+env+".yaml")
	if err != nil {
		return "", err
	}
	if vals["chartSource"] != "oci" {
		return "", nil
	}
	creds, err := a.readValues(ecrCredentialsChart+"/values.yaml", ecrCredentialsChart+"/values-"+env+".yaml")
	if err != nil {
		return "", err
	}
	repos, _ := creds["repositories"].(map[string]any)
	var urls []string
	for _, name := range slices.Sorted(maps.Keys(repos)) {
		if r, ok := repos[name].(map[string]any); ok {
			urls = append(urls, fmt.Sprint(r["url"]))
		}
	}
	if len(urls) != 1 {
		return "", fmt.Errorf("%s/values-%s.yaml: want exactly one repository (the one the %s charts are published to), have %d", ecrCredentialsChart, env, env, len(urls))
	}
	return urls[0], nil
}
