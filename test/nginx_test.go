package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

// TestOrderNginxConf renders the order chart in every environment and runs Debian's
// `nginx -t` on the nginx.conf it ships in its ConfigMap (installed by scripts/test-deps.sh,
// which make test runs). A broken copy must fail, so the check is known to bite.
func TestOrderNginxConf(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/sbin/nginx"} {
			if _, statErr := os.Stat(p); statErr == nil {
				nginx, err = p, nil
			}
		}
	}
	if err != nil {
		t.Fatal("nginx is not installed: run scripts/test-deps.sh (make test does)")
	}
	res, err := (&validate.Validator{Root: root, Charts: []string{"app/order"}}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.Failed() {
		t.Fatalf("app/order does not validate: %s", res.Report.Summary())
	}
	found := 0
	for _, r := range res.Renders {
		for _, o := range r.Objects {
			if o.Kind != "ConfigMap" {
				continue
			}
			data, _ := o.Body["data"].(map[string]any)
			conf, ok := data["nginx.conf"].(string)
			if !ok {
				continue
			}
			found++
			t.Run(r.Env, func(t *testing.T) {
				if out, err := nginxTest(t, nginx, conf); err != nil {
					t.Errorf("nginx -t rejects the rendered nginx.conf of %s: %v\n%s", r.Env, err, out)
				}
				broken := strings.Replace(conf, "fastcgi_pass php_fpm;", "fastcgi_pass php_fpm", 1)
				if broken == conf {
					t.Fatal("nginx.conf has no `fastcgi_pass php_fpm;`: FastCGI routing to php-fpm is gone")
				}
				if _, err := nginxTest(t, nginx, broken); err == nil {
					t.Error("nginx -t accepted a broken nginx.conf: the check does not work")
				}
			})
		}
	}
	if found != len(res.Renders) {
		t.Fatalf("found nginx.conf in %d renders of app/order, want %d", found, len(res.Renders))
	}
}

func nginxTest(t *testing.T, nginx, conf string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nginx, "-t", "-q", "-p", dir, "-e", "stderr", "-c", path).CombinedOutput()
	return string(out), err
}
