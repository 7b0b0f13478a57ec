package chartsource_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
)

// ociRegistry is go-containerregistry's in-process registry (as pkg/publish's tests use)
// served over TLS on 127.0.0.1, counting requests.
type ociRegistry struct {
	srv  *httptest.Server
	host string
	mu   sync.Mutex
	n    int
}

// startRegistry starts a registry; wrap, when given, stands between it and the client.
func startRegistry(t *testing.T, wrap func(http.Handler) http.Handler) *ociRegistry {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	reg := &ociRegistry{}
	reg.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg.mu.Lock()
		reg.n++
		reg.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(reg.srv.Close)
	reg.host = strings.TrimPrefix(reg.srv.URL, "https://")
	return reg
}

func (reg *ociRegistry) requests() int {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.n
}

// pushChart packages a tiny chart and pushes it with Helm's own registry client to
// <host>/<path>/<name>:<version>, returning the archive.
func (reg *ociRegistry) pushChart(t *testing.T, path, name, version string) []byte {
	t.Helper()
	data := readFile(t, packageChart(t, t.TempDir(), name, version))
	client, err := helmregistry.NewClient(helmregistry.ClientOptHTTPClient(reg.srv.Client()), helmregistry.ClientOptWriter(io.Discard),
		helmregistry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Push(data, reg.host+"/"+path+"/"+name+":"+version); err != nil {
		t.Fatalf("helm push %s %s: %v", name, version, err)
	}
	return data
}

// pushRaw pushes a hand-made manifest (config and layers given by media type and bytes)
// as <host>/<repository>:<tag>.
func (reg *ociRegistry) pushRaw(t *testing.T, repository, tag, configType string, layers map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	rep, err := remote.NewRepository(reg.host + "/" + repository)
	if err != nil {
		t.Fatal(err)
	}
	rep.Client = reg.srv.Client()
	push := func(mediaType string, data []byte) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mediaType, data)
		if err := rep.Push(ctx, d, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: push(configType, []byte("{}"))}
	for mt, data := range layers {
		m.Layers = append(m.Layers, push(mt, data))
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.PushReference(ctx, content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw), bytes.NewReader(raw), tag); err != nil {
		t.Fatal(err)
	}
}

// TestOCI: a chart pushed by Helm into a registry on 127.0.0.1 is pulled, its layer's
// digest checked, and cached like any other.
func TestOCI(t *testing.T) {
	reg := startRegistry(t, nil)
	archive := reg.pushChart(t, "charts/team", "tiny", "0.1.0")
	plus := reg.pushChart(t, "charts/team", "tiny", "0.2.0+build.1")
	cache := t.TempDir()
	for _, tc := range []struct {
		name, repoURL, version string
		data                   []byte
		tag                    string
		cached                 bool // found in the cache the cases share
	}{
		{"as Argo CD writes it", reg.host + "/charts/team", "0.1.0", archive, "0.1.0", false},
		{"with oci:// and a trailing slash: the same chart", "oci://" + reg.host + "/charts/team/", "0.1.0", archive, "0.1.0", true},
		{"a version with build metadata (tag with _)", reg.host + "/charts/team", "0.2.0+build.1", plus, "0.2.0_build.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := chartsource.Ref{RepoURL: tc.repoURL, Chart: "tiny", Version: tc.version}
			got, err := (&chartsource.Resolver{CacheDir: cache, HTTPClient: reg.srv.Client()}).Resolve(context.Background(), ref)
			if err != nil {
				t.Fatal(err)
			}
			wantOrigin := "oci://" + reg.host + "/charts/team/tiny:" + tc.tag + "@sha256:"
			if tc.cached {
				wantOrigin = "cache (" + wantOrigin
			}
			if got.Digest != sha(tc.data) || !strings.HasPrefix(got.Origin, wantOrigin) || got.Chart.Metadata.Version != tc.version {
				t.Errorf("digest %s origin %s version %s, want %s %s...", got.Digest, got.Origin, got.Chart.Metadata.Version, sha(tc.data), wantOrigin)
			}
		})
	}
	// The cache answers offline, with the registry stopped.
	reg.srv.Close()
	ref := chartsource.Ref{RepoURL: reg.host + "/charts/team", Chart: "tiny", Version: "0.1.0"}
	got, err := (&chartsource.Resolver{CacheDir: cache, Offline: true}).Resolve(context.Background(), ref)
	if err != nil || !strings.HasPrefix(got.Origin, "cache (oci://") {
		t.Fatalf("from the cache: %v %+v", err, got)
	}
}

func TestOCIRefusals(t *testing.T) {
	tampering := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if len(body) > 100 { // the chart layer, not the config: one byte changed
				body[len(body)/2] ^= 0xff
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
		})
	}
	tests := []struct {
		name    string
		wrap    func(http.Handler) http.Handler
		setup   func(t *testing.T, reg *ociRegistry)
		version string
		max     int64
		errWant []string
	}{
		{
			name:    "version missing",
			setup:   func(t *testing.T, reg *ociRegistry) { reg.pushChart(t, "charts", "tiny", "0.1.0") },
			version: "0.9.0",
			errWant: []string{"version not in the registry"},
		},
		{
			name:    "layer bytes changed in transit",
			wrap:    tampering,
			setup:   func(t *testing.T, reg *ociRegistry) { reg.pushChart(t, "charts", "tiny", "0.1.0") },
			version: "0.1.0",
			errWant: []string{"digest mismatch"},
		},
		{
			name:    "oversize layer",
			setup:   func(t *testing.T, reg *ociRegistry) { reg.pushChart(t, "charts", "tiny", "0.1.0") },
			version: "0.1.0",
			max:     100,
			errWant: []string{"chart archive too large", "over the limit of 100"},
		},
		{
			name: "not a Helm chart (an image config)",
			setup: func(t *testing.T, reg *ociRegistry) {
				reg.pushRaw(t, "charts/tiny", "0.1.0", ocispec.MediaTypeImageConfig, map[string][]byte{ocispec.MediaTypeImageLayerGzip: {1}})
			},
			version: "0.1.0",
			errWant: []string{"not a Helm chart: config media type application/vnd.oci.image.config.v1+json"},
		},
		{
			name: "no chart layer",
			setup: func(t *testing.T, reg *ociRegistry) {
				reg.pushRaw(t, "charts/tiny", "0.1.0", helmregistry.ConfigMediaType, map[string][]byte{helmregistry.ProvLayerMediaType: {1}})
			},
			version: "0.1.0",
			errWant: []string{"not a Helm chart: 0 chart layers"},
		},
		{
			name: "a chart layer that is another chart",
			setup: func(t *testing.T, reg *ociRegistry) {
				other := readFile(t, packageChart(t, t.TempDir(), "other", "0.1.0"))
				reg.pushRaw(t, "charts/tiny", "0.1.0", helmregistry.ConfigMediaType, map[string][]byte{helmregistry.ChartLayerMediaType: other})
			},
			version: "0.1.0",
			errWant: []string{"holds chart other version 0.1.0"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := startRegistry(t, tc.wrap)
			tc.setup(t, reg)
			ref := chartsource.Ref{RepoURL: "oci://" + reg.host + "/charts", Chart: "tiny", Version: tc.version}
			r := &chartsource.Resolver{HTTPClient: reg.srv.Client(), MaxArchiveSize: tc.max}
			got, err := r.Resolve(context.Background(), ref)
			if err == nil {
				t.Fatalf("resolved from %s, want a refusal", got.Origin)
			}
			wantError(t, err, ref, tc.errWant...)
		})
	}
}

// TestRegistryUnreachable: a registry that does not answer is an error naming the chart,
// not a crash.
func TestRegistryUnreachable(t *testing.T) {
	ref := chartsource.Ref{RepoURL: "127.0.0.1:1/charts", Chart: "tiny", Version: "0.1.0"}
	_, err := (&chartsource.Resolver{}).Resolve(context.Background(), ref)
	wantError(t, err, ref, "registry unavailable")
}
