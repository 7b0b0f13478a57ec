package publish_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"oras.land/oras-go/v2/content/oci"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/publish"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/secrets"
)

// Distinctive secret values: a test fails if either is found where it must not be.
const (
	dbPassword   = "pw-Tr0ub4dor-account-7f3a"
	rootPassword = "pw-C0rrectHorse-root-91b2"
)

// testRepo is a repository made of the real account chart and the library chart, with
// the account entries of the real secret declaration.
func testRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, dir := range []string{"app/account", "charts/common"} {
		dst := filepath.Join(root, dir)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		copyDir(t, filepath.Join("..", "..", dir), dst)
	}
	decl := `secrets:
  - chart: app/account
    path: secrets.databasePassword
    env: ACCOUNT_DB_PASSWORD
    environments: [dev, prd]
  - chart: app/account
    path: secrets.databaseRootPassword
    env: ACCOUNT_DB_ROOT_PASSWORD
    environments: [dev]
`
	if err := os.WriteFile(filepath.Join(root, secrets.File), []byte(decl), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	dir := testutil.Repo(t, src)
	if err := os.CopyFS(dst, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
}

// isolate keeps the test away from the machine's credentials and temporary directory.
func isolate(t *testing.T) (tmp string) {
	t.Helper()
	tmp = t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(tmp, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(tmp, "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_ECR", "")
	return tmp
}

func setSecrets(t *testing.T) {
	t.Setenv("ACCOUNT_DB_PASSWORD", dbPassword)
	t.Setenv("ACCOUNT_DB_ROOT_PASSWORD", rootPassword)
}

// startRegistry serves go-containerregistry's registry on 127.0.0.1; wrap, when given,
// guards it (basic auth).
func startRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(discardLogger()))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func catalog(t *testing.T, host string, basicAuth ...string) []string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/_catalog", nil)
	if len(basicAuth) == 2 {
		req.SetBasicAuth(basicAuth[0], basicAuth[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Repositories []string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Repositories
}

// assertNoSecret fails when a secret value is in any of texts or in any file under dirs
// (except below skip, a directory relative to its root).
func assertNoSecret(t *testing.T, what string, texts ...string) {
	t.Helper()
	for i, s := range texts {
		for _, v := range []string{dbPassword, rootPassword, base64.StdEncoding.EncodeToString([]byte(dbPassword))} {
			if strings.Contains(s, v) {
				t.Errorf("%s #%d holds a secret value", what, i)
			}
		}
	}
}

func assertNoSecretInFiles(t *testing.T, dir, skip string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			if skip != "" && rel == skip {
				return fs.SkipDir
			}
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		assertNoSecret(t, "file "+rel, string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, p *publish.Publisher) (*publish.Result, string, error) {
	t.Helper()
	var log bytes.Buffer
	p.Log = &log
	res, err := p.Run(context.Background())
	out := log.String()
	if res != nil {
		data, _ := json.Marshal(res)
		out += string(data)
	}
	if err != nil {
		out += err.Error()
	}
	assertNoSecret(t, "log, result and error", out)
	return res, log.String(), err
}

// pullAndRender pulls with Helm's own registry client, loads the chart and renders it with
// no values, as ArgoCD does, returning the Secret's decoded data.
func pullAndRender(t *testing.T, ref string) (*chart.Chart, map[string]string) {
	t.Helper()
	client, err := helmregistry.NewClient(helmregistry.ClientOptPlainHTTP(), helmregistry.ClientOptWriter(io.Discard),
		helmregistry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")))
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := client.Pull(ref)
	if err != nil {
		t.Fatalf("helm pull %s: %v", ref, err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(pulled.Chart.Data))
	if err != nil {
		t.Fatal(err)
	}
	return ch, renderSecret(t, ch)
}

func renderSecret(t *testing.T, ch *chart.Chart) map[string]string {
	t.Helper()
	if err := chartutil.ProcessDependenciesWithMerge(ch, nil); err != nil {
		t.Fatal(err)
	}
	top, err := chartutil.ToRenderValues(ch, map[string]any{}, chartutil.ReleaseOptions{Name: ch.Name(), Namespace: "microservices"}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		objs, err := render.Decode([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, o := range objs {
			if o.Kind != "Secret" {
				continue
			}
			out := map[string]string{}
			data, _ := o.Body["data"].(map[string]any)
			for k, v := range data {
				b, err := base64.StdEncoding.DecodeString(v.(string))
				if err != nil {
					t.Fatal(err)
				}
				out[k] = string(b)
			}
			return out
		}
	}
	t.Fatal("the chart renders no Secret")
	return nil
}

func TestPublishToRegistry(t *testing.T) {
	tmp := isolate(t)
	setSecrets(t)
	root := testRepo(t)
	host := startRegistry(t, nil)
	p := &publish.Publisher{Root: root, Env: "dev", Registry: host + "/charts/team", PlainHTTP: true}
	res, _, err := run(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Charts) != 1 {
		t.Fatalf("published %d charts, want 1: %+v", len(res.Charts), res.Charts)
	}
	c := res.Charts[0]
	wantRepo := host + "/charts/team/account"
	if c.Status != publish.Pushed || c.Repository != wantRepo || c.Version != accountVersion(t) ||
		c.Reference != wantRepo+":"+accountVersion(t)+"@"+c.Digest || !strings.HasPrefix(c.Digest, "sha256:") {
		t.Errorf("result = %+v", c)
	}
	if got := strings.Join(c.Secrets, ","); got != "ACCOUNT_DB_PASSWORD,ACCOUNT_DB_ROOT_PASSWORD" {
		t.Errorf("secrets = %s", got)
	}
	if got := catalog(t, host); len(got) != 1 || got[0] != "charts/team/account" {
		t.Errorf("catalog = %v", got)
	}

	ch, data := pullAndRender(t, wantRepo+":"+accountVersion(t))
	if data["password"] != dbPassword || data["root-password"] != rootPassword {
		t.Errorf("rendered Secret does not carry the published secrets (keys %d)", len(data))
	}
	if ch.Metadata.Annotations[publish.EnvironmentAnnotation] != "dev" {
		t.Errorf("chart annotations = %v", ch.Metadata.Annotations)
	}
	for _, f := range ch.Files {
		if strings.HasPrefix(f.Name, "values-") {
			t.Errorf("package holds %s; only the baked values.yaml belongs in it", f.Name)
		}
	}
	if len(ch.Dependencies()) != 1 || ch.Dependencies()[0].Name() != "common" {
		t.Errorf("package is not self-contained: dependencies %v", ch.Dependencies())
	}
	// dev's own values are baked in.
	if env, _ := ch.Values["containers"].(map[string]any)["app"].(map[string]any)["env"].(map[string]any); env["GIN_MODE"] != "debug" {
		t.Errorf("values-dev.yaml not baked in: GIN_MODE = %v", env["GIN_MODE"])
	}

	assertManifest(t, "http://"+wantRepo, c.Digest)
	assertNoSecretInFiles(t, root, "")
	if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "platform-publish-") {
				t.Errorf("temporary directory %s left behind", e.Name())
			}
		}
	}
}

// assertManifest checks the media types and annotations Helm sets.
func assertManifest(t *testing.T, repoURL, digest string) {
	t.Helper()
	u := strings.Replace(repoURL, "http://", "", 1)
	host, repo, _ := strings.Cut(u, "/")
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+repo+"/manifests/"+digest, nil)
	req.Header.Set("Accept", ocispec.MediaTypeImageManifest)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m ocispec.Manifest
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != helmregistry.ConfigMediaType || len(m.Layers) != 1 || m.Layers[0].MediaType != helmregistry.ChartLayerMediaType {
		t.Errorf("manifest media types: config %s, layers %v", m.Config.MediaType, m.Layers)
	}
	for k, want := range map[string]string{
		ocispec.AnnotationTitle:       "account",
		ocispec.AnnotationVersion:     accountVersion(t),
		ocispec.AnnotationCreated:     "1970-01-01T00:00:00Z",
		discovery.NamespaceAnnotation: "microservices",
	} {
		if m.Annotations[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, m.Annotations[k], want)
		}
	}
}

func TestPublishUnchangedAndRefused(t *testing.T) {
	isolate(t)
	setSecrets(t)
	root := testRepo(t)
	host := startRegistry(t, nil)
	p := func() *publish.Publisher {
		return &publish.Publisher{Root: root, Env: "dev", Registry: host + "/charts", PlainHTTP: true}
	}
	first, _, err := run(t, p())
	if err != nil {
		t.Fatal(err)
	}
	again, log, err := run(t, p())
	if err != nil {
		t.Fatal(err)
	}
	if again.Charts[0].Status != publish.Unchanged || again.Charts[0].Digest != first.Charts[0].Digest {
		t.Errorf("re-publish of the same content: %+v, first %s", again.Charts[0], first.Charts[0].Digest)
	}
	if !strings.Contains(log, "unchanged "+first.Charts[0].Reference) {
		t.Errorf("log does not report unchanged:\n%s", log)
	}

	// A rotated secret is other content under the same version: refused.
	t.Setenv("ACCOUNT_DB_PASSWORD", "pw-rotated-9c1d")
	_, _, err = run(t, p())
	var conflict *publish.ConflictError
	if !errors.As(err, &conflict) || len(conflict.Conflicts) != 1 || !strings.Contains(conflict.Conflicts[0], first.Charts[0].Digest) {
		t.Fatalf("err = %v, want a conflict naming the published digest", err)
	}
	_, data := pullAndRender(t, host+"/charts/account:"+accountVersion(t))
	if data["password"] != dbPassword {
		t.Error("the published version was overwritten")
	}
	if strings.Contains(err.Error(), "pw-rotated-9c1d") {
		t.Error("the conflict error holds the secret")
	}
}

func TestPublishMissingSecrets(t *testing.T) {
	isolate(t)
	root := testRepo(t)
	host := startRegistry(t, nil)
	t.Setenv("ACCOUNT_DB_PASSWORD", "")
	t.Setenv("ACCOUNT_DB_ROOT_PASSWORD", "")
	os.Unsetenv("ACCOUNT_DB_ROOT_PASSWORD") // unset, not only empty (restored by t.Setenv)
	for _, dry := range []bool{false, true} {
		_, _, err := run(t, &publish.Publisher{Root: root, Env: "dev", Registry: host + "/charts", PlainHTTP: true, DryRun: dry})
		var missing *secrets.MissingError
		if !errors.As(err, &missing) || strings.Join(missing.Vars, ",") != "ACCOUNT_DB_PASSWORD,ACCOUNT_DB_ROOT_PASSWORD" {
			t.Fatalf("dry-run %v: err = %v, want both variables named", dry, err)
		}
	}
	if got := catalog(t, host); len(got) != 0 {
		t.Errorf("pushed %v with secrets missing", got)
	}
	// prd needs only the password.
	t.Setenv("ACCOUNT_DB_PASSWORD", dbPassword)
	if _, _, err := run(t, &publish.Publisher{Root: root, Env: "prd", DryRun: true}); err != nil && !errors.As(err, new(*publish.ValidationError)) {
		t.Errorf("prd with its one secret set: %v", err)
	}
}

func TestPublishValidationFirst(t *testing.T) {
	isolate(t)
	setSecrets(t)
	root := testRepo(t)
	host := startRegistry(t, nil)
	// A secret committed to git is a finding; the value is not repeated in it.
	f := filepath.Join(root, "app/account/values-dev.yaml")
	data, _ := os.ReadFile(f)
	if err := os.WriteFile(f, append(data, []byte("secrets:\n  databasePassword: committed-pw-55aa\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	res, _, err := run(t, &publish.Publisher{Root: root, Env: "dev", Registry: host + "/charts", PlainHTTP: true})
	var verr *publish.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v, want a validation error", err)
	}
	found := false
	for _, f := range res.Report.Findings {
		if f.Rule == secrets.Rule && f.File == "app/account/values-dev.yaml" && f.Path == "secrets.databasePassword" {
			found = true
		}
		if strings.Contains(f.String(), "committed-pw-55aa") {
			t.Errorf("finding repeats the committed value: %s", f)
		}
	}
	if !found {
		t.Errorf("no finding for the committed secret: %v", res.Report.Findings)
	}
	if got := catalog(t, host); len(got) != 0 {
		t.Errorf("pushed %v despite validation errors", got)
	}
}

// TestPublishWithoutRegistry: without a registry, publish fails before reading a secret
// and writes nothing (it used to write local layouts holding the secrets into the
// workspace); a dry run needs none.
func TestPublishWithoutRegistry(t *testing.T) {
	isolate(t)
	setSecrets(t)
	root := testRepo(t)
	looked := false
	lookup := func(name string) (string, bool) { looked = true; return os.LookupEnv(name) }
	_, _, err := run(t, &publish.Publisher{Root: root, Env: "dev", Lookup: lookup})
	if err == nil || !strings.Contains(err.Error(), "no registry") {
		t.Fatalf("err = %v, want a refusal without a registry", err)
	}
	if looked {
		t.Error("secrets were read for a publish with nowhere to go")
	}
	if _, err := os.Stat(filepath.Join(root, ".cache")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".cache exists after a refused publish: %v", err)
	}
	assertNoSecretInFiles(t, root, "")

	res, _, err := run(t, &publish.Publisher{Root: root, Env: "dev", DryRun: true})
	if err != nil || len(res.Charts) == 0 || res.Charts[0].Status != publish.DryRun {
		t.Fatalf("dry run without a registry: %v %+v", err, res)
	}
	assertNoSecretInFiles(t, root, "")
}

// TestPublishLayoutIsPrivate: the local layouts, asked for by name, are readable by their
// owner only, and are not written through a symbolic link.
func TestPublishLayoutIsPrivate(t *testing.T) {
	isolate(t)
	setSecrets(t)
	root := testRepo(t)
	if _, _, err := run(t, &publish.Publisher{Root: root, Env: "dev", Registry: publish.LocalLayout}); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(filepath.Join(root, ".cache"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if rel != ".cache" && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: readable by others", rel, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	root2, outside := testRepo(t), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root2, ".cache")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, &publish.Publisher{Root: root2, Env: "dev", Registry: publish.LocalLayout}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("err = %v, want a refusal to write through the link", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) > 0 {
		t.Errorf("written through the link: %v", entries)
	}
}

func TestPublishLocalLayout(t *testing.T) {
	isolate(t)
	setSecrets(t)
	root := testRepo(t)
	res, _, err := run(t, &publish.Publisher{Root: root, Env: "dev", Registry: publish.LocalLayout})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Charts[0]
	if res.Registry != ".cache/oci/dev" || c.Reference != ".cache/oci/dev/account:"+accountVersion(t)+"@"+c.Digest || c.Status != publish.Pushed {
		t.Errorf("result = %s %+v", res.Registry, c)
	}
	store, err := oci.New(filepath.Join(root, ".cache/oci/dev/account"))
	if err != nil {
		t.Fatal(err)
	}
	desc, err := store.Resolve(context.Background(), accountVersion(t))
	if err != nil || desc.Digest.String() != c.Digest {
		t.Fatalf("layout tag %s = %v, %v", accountVersion(t), desc.Digest, err)
	}
	// Nothing outside the gitignored cache holds a secret; inside, only the package does.
	assertNoSecretInFiles(t, root, ".cache")
	again, _, err := run(t, &publish.Publisher{Root: root, Env: "dev", Registry: publish.LocalLayout})
	if err != nil || again.Charts[0].Status != publish.Unchanged {
		t.Errorf("second publish to the layout: %v %+v", err, again)
	}
}

func TestPackageDeterministic(t *testing.T) {
	isolate(t)
	root := testRepo(t)
	repo, err := discovery.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := repo.Chart("app/account")
	vals := []secrets.Value{{Secret: secrets.Secret{Chart: c.ID, Path: "secrets.databasePassword", Env: "X"}, Value: dbPassword}}
	var first []byte
	for i := 0; i < 2; i++ {
		ch, err := publish.Bake(c, "prd", root, vals)
		if err != nil {
			t.Fatal(err)
		}
		tgz, err := publish.Package(ch, root)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = tgz
			assertEntries(t, tgz)
		} else if !bytes.Equal(first, tgz) {
			t.Error("two packages of the same chart differ")
		}
	}
}

// assertEntries checks every entry of the archive carries the fixed time.
func assertEntries(t *testing.T, tgz []byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if !h.ModTime.Equal(publish.Epoch) {
			t.Errorf("%s: mtime %v", h.Name, h.ModTime)
		}
		if h.Name == "account/values-prd.yaml" || h.Name == "account/values-dev.yaml" {
			t.Errorf("%s in the package", h.Name)
		}
	}
	if n < 5 {
		t.Errorf("archive has %d entries", n)
	}
}

// ecrServer speaks the ECR JSON protocol's GetAuthorizationToken and records requests.
type ecrServer struct {
	mu       sync.Mutex
	targets  []string
	authzOK  bool
	password string
}

func (e *ecrServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.targets = append(e.targets, r.Header.Get("X-Amz-Target"))
	if strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDTESTECR/") {
		e.authzOK = true
	}
	e.mu.Unlock()
	if r.Header.Get("X-Amz-Target") != "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken" {
		http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	token := base64.StdEncoding.EncodeToString([]byte("AWS:" + e.password))
	json.NewEncoder(w).Encode(map[string]any{"authorizationData": []map[string]any{{
		"authorizationToken": token, "expiresAt": 4102444800, "proxyEndpoint": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}}})
}

func TestPublishECR(t *testing.T) {
	for _, viaEnv := range []bool{false, true} {
		name := map[bool]string{false: "flag", true: "AWS_ENDPOINT_URL_ECR"}[viaEnv]
		t.Run(name, func(t *testing.T) {
			isolate(t)
			setSecrets(t)
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTECR")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
			t.Setenv("AWS_SESSION_TOKEN", "")
			t.Setenv("AWS_PROFILE", "")
			t.Setenv("AWS_ROLE_ARN", "")
			t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
			root := testRepo(t)
			ecr := &ecrServer{password: "ecr-token-" + name}
			ecrSrv := httptest.NewServer(ecr)
			defer ecrSrv.Close()

			var mu sync.Mutex
			var sawAuth []string
			regHost := startRegistry(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					user, pass, ok := r.BasicAuth()
					mu.Lock()
					sawAuth = append(sawAuth, r.Host)
					mu.Unlock()
					if !ok || user != "AWS" || pass != ecr.password {
						w.Header().Set("WWW-Authenticate", `Basic realm="ecr"`)
						http.Error(w, "unauthorized", http.StatusUnauthorized)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			// The ECR registry host resolves to the local registry.
			const ecrHost = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
			dialer := &net.Dialer{}
			client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if strings.HasPrefix(addr, ecrHost+":") {
					addr = regHost
				}
				return dialer.DialContext(ctx, network, addr)
			}}}
			p := &publish.Publisher{Root: root, Env: "dev", Registry: ecrHost + "/charts", PlainHTTP: true, HTTPClient: client}
			if viaEnv {
				t.Setenv("AWS_ENDPOINT_URL_ECR", ecrSrv.URL)
			} else {
				p.ECREndpoint = ecrSrv.URL
			}
			res, _, err := run(t, p)
			if err != nil {
				t.Fatal(err)
			}
			if res.Charts[0].Reference != ecrHost+"/charts/account:"+accountVersion(t)+"@"+res.Charts[0].Digest {
				t.Errorf("reference = %s", res.Charts[0].Reference)
			}
			ecr.mu.Lock()
			defer ecr.mu.Unlock()
			if len(ecr.targets) != 1 || ecr.targets[0] != "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken" || !ecr.authzOK {
				t.Errorf("ECR requests: targets %v, signed with the static key %v", ecr.targets, ecr.authzOK)
			}
			if got := catalog(t, regHost, "AWS", ecr.password); len(got) != 1 || got[0] != "charts/account" {
				t.Errorf("catalog = %v", got)
			}
			if len(sawAuth) == 0 || sawAuth[0] != ecrHost {
				t.Errorf("registry requests for hosts %v", sawAuth)
			}
		})
	}
}

func TestRegistryNames(t *testing.T) {
	for _, tc := range []struct{ in, host, repo, region string }{
		{"oci://123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/charts/", "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com", "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/charts/account", "ap-northeast-1"},
		{"127.0.0.1:5000", "127.0.0.1:5000", "127.0.0.1:5000/account", ""},
		{"ghcr.io/org/team/charts", "ghcr.io", "ghcr.io/org/team/charts/account", ""},
	} {
		r, err := publish.ParseRegistry(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if r.Host != tc.host || r.Repository("account") != tc.repo || publish.ECRRegion(r.Host) != tc.region {
			t.Errorf("%s: host %s repo %s region %s", tc.in, r.Host, r.Repository("account"), publish.ECRRegion(r.Host))
		}
	}
	for _, bad := range []string{"", "/charts", "Bad Host/x", "host/UPPER"} {
		if _, err := publish.ParseRegistry(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// accountVersion is the version of app/account, the chart these tests publish (it moves with
// every change of the chart).
func accountVersion(t *testing.T) string {
	t.Helper()
	ch, err := loader.Load(filepath.Join("..", "..", "app", "account"))
	if err != nil {
		t.Fatal(err)
	}
	return ch.Metadata.Version
}
