package command

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"go.yaml.in/yaml/v3"
)

var dbSecrets = map[string]string{
	"ACCOUNT_DB_PASSWORD":       "cmd-pw-account-4e1f",
	"ACCOUNT_DB_ROOT_PASSWORD":  "cmd-pw-account-root-0b7c",
	"CUSTOMER_DB_PASSWORD":      "cmd-pw-customer-99d0",
	"CUSTOMER_DB_ROOT_PASSWORD": "cmd-pw-customer-root-2a6e",
	"ORDER_DB_PASSWORD":         "cmd-pw-order-c3c3",
	"ORDER_DB_ROOT_PASSWORD":    "cmd-pw-order-root-71fa",
}

// serviceRepo copies the repository's database-owning service charts, the library chart
// and the entries of the real secrets.yaml that declare secrets of these three charts.
func serviceRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	charts := []string{"app/account", "app/customer", "app/order"}
	for _, dir := range append(slices.Clone(charts), "charts/common") {
		if err := os.CopyFS(filepath.Join(root, dir), os.DirFS(filepath.Join("..", "..", dir))); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "secrets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var decl struct {
		Secrets []map[string]any `yaml:"secrets"`
	}
	if err := yaml.Unmarshal(data, &decl); err != nil {
		t.Fatal(err)
	}
	decl.Secrets = slices.DeleteFunc(decl.Secrets, func(s map[string]any) bool {
		chart, _ := s["chart"].(string)
		return !slices.Contains(charts, chart)
	})
	if data, err = yaml.Marshal(decl); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "secrets.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func ociRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func repositories(t *testing.T, host string) []string {
	t.Helper()
	resp, err := http.Get("http://" + host + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Repositories []string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out.Repositories) // the registry lists them in no particular order
	return out.Repositories
}

func noSecrets(t *testing.T, where string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for name, v := range dbSecrets {
			if strings.Contains(s, v) {
				t.Errorf("%s holds the value of %s", where, name)
			}
		}
	}
}

func TestPublishCommand(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for k, v := range dbSecrets {
		t.Setenv(k, v)
	}
	root := serviceRepo(t)
	host := ociRegistry(t)
	stdout, stderr, code := platform(t, "--root", root, "publish", "--env", "dev", "--registry", host+"/charts", "--plain-http")
	noSecrets(t, "publish output", stdout, stderr)
	if code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, stderr)
	}
	ref := regexp.MustCompile(`^` + regexp.QuoteMeta(host) + `/charts/(account|customer|order):\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$`)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("stdout has %d lines, want 3 references:\n%s", len(lines), stdout)
	}
	for _, l := range lines {
		if !ref.MatchString(l) {
			t.Errorf("stdout line %q is not a pushed reference", l)
		}
	}
	for _, want := range []string{"secrets: 6 value(s) for dev", "pushed " + lines[0]} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if got := repositories(t, host); strings.Join(got, ",") != "charts/account,charts/customer,charts/order" {
		t.Errorf("registry holds %v", got)
	}

	stdout, stderr, code = platform(t, "--root", root, "publish", "--env", "dev", "--registry", host+"/charts", "--plain-http", "-o", "json")
	noSecrets(t, "publish -o json", stdout, stderr)
	var res struct {
		Environment string
		Charts      []struct{ Chart, Reference, Status string }
	}
	if err := json.Unmarshal([]byte(stdout), &res); code != 0 || err != nil {
		t.Fatalf("json publish: exit %d, %v\n%s", code, err, stderr)
	}
	if res.Environment != "dev" || len(res.Charts) != 3 || res.Charts[0].Status != "unchanged" || res.Charts[0].Reference != lines[0] {
		t.Errorf("json result = %+v", res)
	}

	// The working tree holds no secret.
	for path, body := range tree(t, root) {
		noSecrets(t, path, body)
	}
}

func TestPublishCommandMissingSecrets(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	for k, v := range dbSecrets {
		t.Setenv(k, v)
	}
	t.Setenv("CUSTOMER_DB_PASSWORD", "")
	os.Unsetenv("ORDER_DB_ROOT_PASSWORD")
	root := serviceRepo(t)
	host := ociRegistry(t)
	stdout, stderr, code := platform(t, "--root", root, "publish", "--env", "dev", "--registry", host+"/charts", "--plain-http")
	noSecrets(t, "output", stdout, stderr)
	if code == 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	if !strings.Contains(stderr, "CUSTOMER_DB_PASSWORD, ORDER_DB_ROOT_PASSWORD") {
		t.Errorf("stderr does not name both missing variables:\n%s", stderr)
	}
	if got := repositories(t, host); len(got) != 0 {
		t.Errorf("pushed %v", got)
	}
}

func TestSetImageCommand(t *testing.T) {
	root := serviceRepo(t)
	stdout, stderr, code := platform(t, "--root", root, "set-image", "--service", "order", "--tag", "2.0.1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "app/order/values.yaml: containers.app.image.tag: \"1.0.0\" -> \"2.0.1\"\n"; stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	if _, stderr, code := platform(t, "--root", root, "set-image", "--service", "payment", "--tag", "2.0.1"); code == 0 || !strings.Contains(stderr, `unknown service "payment"`) {
		t.Errorf("unknown service: exit %d, %s", code, stderr)
	}
	if _, stderr, code := platform(t, "--root", root, "set-image", "--service", "order", "--tag", "latest"); code == 0 || !strings.Contains(stderr, "invalid image tag") {
		t.Errorf("latest: exit %d, %s", code, stderr)
	}
}
