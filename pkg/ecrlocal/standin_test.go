package ecrlocal_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/ecrlocal"
	"github.com/microservices-manifests/microservices-manifests/pkg/publish"
)

const (
	accessKey = "AKIDSTANDINE2E"
	secretKey = "standin-e2e-secret"
)

// registryBinary builds Distribution into the repository's bin/ (cached across runs by the
// binary's build information); a test that needs it is skipped only if it cannot be built.
func registryBinary(t *testing.T) string {
	t.Helper()
	bin, built, err := ecrlocal.Build(context.Background(), filepath.Join("..", "..", "bin"), nil)
	if err != nil {
		t.Skipf("cannot build %s@%s (no module proxy?): %v", ecrlocal.RegistryModule, ecrlocal.RegistryVersion, err)
	}
	if built {
		t.Logf("built %s", bin)
	}
	return bin
}

// standIn starts the stand-in on 127.0.0.1 in a temporary directory.
func standIn(t *testing.T, clk *testutil.Clock) (*ecrlocal.Instance, string) {
	t.Helper()
	dir := t.TempDir()
	s := &ecrlocal.Server{Dir: dir, Binary: registryBinary(t), AccessKeyID: accessKey, SecretAccessKey: secretKey, Now: clk.Now}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inst, err := s.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := inst.Close(); err != nil {
			t.Error(err)
		}
	})
	return inst, dir
}

// client resolves the ECR-shaped registry name to 127.0.0.1 (as DNS does for the real
// one) and trusts the stand-in's CA: the HTTPS path, not PlainHTTP.
func client(t *testing.T, inst *ecrlocal.Instance) *http.Client {
	t.Helper()
	caPEM, err := os.ReadFile(inst.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate in", inst.CAFile)
	}
	name, _, _ := net.SplitHostPort(inst.Host)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, port, err := net.SplitHostPort(addr); err == nil && host == name {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}}
}

// isolate keeps the SDK away from the machine's AWS configuration and gives it the key.
func isolate(t *testing.T, inst *ecrlocal.Instance) {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(tmp, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(tmp, "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("DOCKER_CONFIG", tmp)
	for _, k := range []string{"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", accessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
	t.Setenv("AWS_ENDPOINT_URL_ECR", inst.APIEndpoint)
}

// token asks the stand-in's ECR API for a registry password, as `aws ecr
// get-login-password` does (publish's own login, with the given secret).
func token(t *testing.T, inst *ecrlocal.Instance, secret string) (string, error) {
	t.Helper()
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secret}, nil
	})
	user, pass, err := publish.ECRLogin(context.Background(), inst.Region, inst.APIEndpoint, creds)
	if err != nil {
		return "", err
	}
	if user != ecrlocal.User {
		t.Fatalf("token user %q", user)
	}
	return pass, nil
}

// get requests path of the registry with basic auth when user is not empty.
func get(t *testing.T, c *http.Client, inst *ecrlocal.Instance, path, user, pass string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://"+inst.Host+path, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestPublishPrd is `platform publish --env prd` against the stand-in: the production
// code path (ECR token from aws-sdk-go-v2 via AWS_ENDPOINT_URL_ECR, push with oras-go over
// HTTPS) into a real Distribution.
func TestPublishPrd(t *testing.T) {
	clk := testutil.NewClock(time.Now())
	inst, dir := standIn(t, clk)
	isolate(t, inst)
	t.Setenv("ACCOUNT_DB_PASSWORD", "pw-standin-prd-5d1e")
	t.Setenv("TMPDIR", t.TempDir())
	// The repository itself, read only: prd validates the account chart with what it needs
	// (namespace, mesh policies); publish writes nothing into the root.
	root := filepath.Join("..", "..")
	c := client(t, inst)
	newPublisher := func() *publish.Publisher {
		return &publish.Publisher{Root: root, Env: "prd", Charts: []string{"app/account"}, Registry: inst.Host + "/charts", HTTPClient: c}
	}
	start := time.Now()
	res, err := newPublisher().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("published in %s", time.Since(start).Round(time.Millisecond))
	ch, err := loader.Load(filepath.Join(root, "app", "account"))
	if err != nil {
		t.Fatal(err)
	}
	version := ch.Metadata.Version
	got := res.Charts[0]
	if len(res.Charts) != 1 || got.Status != publish.Pushed || got.Reference != inst.Host+"/charts/account:"+version+"@"+got.Digest {
		t.Fatalf("result = %+v", res.Charts)
	}

	// The chart is in Distribution: by tag, with the pushed digest, and on its disk.
	pass, err := token(t, inst, secretKey)
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, c, inst, "/v2/charts/account/manifests/"+version, ecrlocal.User, pass)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != got.Digest {
		t.Errorf("manifest: %s, digest %s, want %s", resp.Status, resp.Header.Get("Docker-Content-Digest"), got.Digest)
	}
	if _, err := os.Stat(filepath.Join(dir, "storage", "docker", "registry", "v2", "repositories", "charts", "account", "_manifests", "tags", version)); err != nil {
		t.Errorf("not in Distribution's storage: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://"+inst.Host+"/v2/_catalog", nil)
	req.SetBasicAuth(ecrlocal.User, pass)
	cresp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var catalog struct{ Repositories []string }
	err = json.NewDecoder(cresp.Body).Decode(&catalog)
	cresp.Body.Close()
	if err != nil || len(catalog.Repositories) != 1 || catalog.Repositories[0] != "charts/account" {
		t.Errorf("catalog = %v (%v)", catalog.Repositories, err)
	}

	// Publishing again reads the tag back through the same path: unchanged, not pushed.
	again, err := newPublisher().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if again.Charts[0].Status != publish.Unchanged || again.Charts[0].Digest != got.Digest {
		t.Errorf("second publish = %+v", again.Charts[0])
	}

	// By its address (how `make up ENV=prd` and Argo CD reach it): not an ECR host name, so
	// only --ecr-region makes publish ask GetAuthorizationToken; without it the registry's
	// Basic challenge finds no credential (no Docker configuration here) and nothing is pushed.
	byAddr := newPublisher()
	byAddr.Registry = inst.Addr + "/charts"
	if _, err := byAddr.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "credential not found") {
		t.Errorf("publish by address without --ecr-region: %v, want the registry's 401", err)
	}
	byAddr.ECRRegion = inst.Region
	if res, err := byAddr.Run(context.Background()); err != nil || res.Charts[0].Status != publish.Unchanged || res.Charts[0].Digest != got.Digest {
		t.Errorf("publish by address with --ecr-region: %+v, %v", res, err)
	}

	// A wrong SigV4 secret gets no token, so publish fails before pushing anything.
	if _, err := token(t, inst, "not-the-secret"); err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Errorf("token with a wrong secret: %v", err)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	if _, err := newPublisher().Run(context.Background()); err == nil || !strings.Contains(err.Error(), "get-authorization-token") {
		t.Errorf("publish with a wrong secret: %v", err)
	}
}

// TestRegistryAdmitsOnlyECRTokens: only user AWS with an issued, unexpired token gets in;
// everyone else gets 401 with a Basic challenge, anonymous pulls included.
func TestRegistryAdmitsOnlyECRTokens(t *testing.T) {
	clk := testutil.NewClock(time.Now())
	inst, _ := standIn(t, clk)
	c := client(t, inst)
	pass, err := token(t, inst, secretKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, user, pass string
		status                 int
	}{
		{"token", "/v2/", ecrlocal.User, pass, http.StatusOK},
		{"anonymous", "/v2/", "", "", http.StatusUnauthorized},
		{"anonymous pull", "/v2/charts/account/manifests/0.1.0", "", "", http.StatusUnauthorized},
		{"anonymous catalog", "/v2/_catalog", "", "", http.StatusUnauthorized},
		{"wrong token", "/v2/", ecrlocal.User, pass + "x", http.StatusUnauthorized},
		{"the secret key as password", "/v2/", ecrlocal.User, secretKey, http.StatusUnauthorized},
		{"other user", "/v2/", "admin", pass, http.StatusUnauthorized},
		{"user in lower case", "/v2/", "aws", pass, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, c, inst, tc.path, tc.user, tc.pass)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %s, want %d", resp.Status, tc.status)
			}
			if tc.status == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("challenge %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("expired token", func(t *testing.T) {
		clk.Add(ecrlocal.TokenTTL - time.Minute)
		if resp := get(t, c, inst, "/v2/", ecrlocal.User, pass); resp.StatusCode != http.StatusOK {
			t.Fatalf("a minute before expiry: %s", resp.Status)
		}
		clk.Add(time.Minute)
		if resp := get(t, c, inst, "/v2/", ecrlocal.User, pass); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("at expiry: %s", resp.Status)
		}
	})
}
