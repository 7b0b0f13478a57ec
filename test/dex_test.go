package test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/microservices-manifests/microservices-manifests/internal/istiocharts"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
)

const (
	argoCDValuesDir = "deploy/argocd/shared/root/values/argo-cd"
	dexIDVar        = "ARGOCD_DEX_GITHUB_CLIENT_ID"
	dexSecretVar    = "ARGOCD_DEX_GITHUB_CLIENT_SECRET"
)

// dexValues executes the Helmfile values template secrets.yaml.gotmpl for env with the
// given environment variables, with Helmfile's env, requiredEnv and quote (the only
// functions it uses besides Go's own).
func dexValues(env string, vars map[string]string) (map[string]any, error) {
	data, err := os.ReadFile(filepath.Join(root, argoCDValuesDir, "secrets.yaml.gotmpl"))
	if err != nil {
		return nil, err
	}
	tpl, err := template.New("secrets.yaml.gotmpl").Option("missingkey=error").Funcs(template.FuncMap{
		"env": func(name string) string { return vars[name] },
		"requiredEnv": func(name string) (string, error) {
			if vars[name] == "" {
				return "", fmt.Errorf("required env var `%s` is not set", name)
			}
			return vars[name], nil
		},
		"quote": func(s string) string { return fmt.Sprintf("%q", s) },
	}).Parse(string(data))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := tpl.Execute(&out, map[string]any{"Environment": map[string]any{"Name": env}}); err != nil {
		return nil, err
	}
	var v map[string]any
	if err := yaml.Unmarshal(out.Bytes(), &v); err != nil {
		return nil, fmt.Errorf("not YAML: %w\n%s", err, out.String())
	}
	return v, nil
}

// TestDexClientNeverEmpty checks the Helmfile values of Argo CD's Dex GitHub connector
// (values/argo-cd/secrets.yaml.gotmpl): the client id and secret are never rendered as empty
// strings. prd requires both variables; dev without them has no connector and no Dex server
// (the admin user logs in), and with both logs in through GitHub like prd; exactly one set
// fails naming the other. Then the official argo-cd chart (../shared/charts, the closest
// version to the pin; skipped without ../shared) renders the merged values of each dev case,
// showing what Argo CD gets: argocd-cm without dex.config and no argocd-dex-server, or the
// connector with its keys in argocd-secret.
func TestDexClientNeverEmpty(t *testing.T) {
	both := map[string]string{dexIDVar: "Iv1.0123456789abcdef", dexSecretVar: "0123456789abcdef0123456789abcdef01234567"}
	for _, tc := range []struct {
		name, env string
		vars      map[string]string
		wantErr   string // a substring of the template's error; "" for none
		connector bool   // the GitHub connector is configured
	}{
		{"prd without the OAuth app", "prd", nil, dexIDVar, false},
		{"prd with only the client id", "prd", map[string]string{dexIDVar: both[dexIDVar]}, dexSecretVar, false},
		{"prd", "prd", both, "", true},
		{"dev without the OAuth app", "dev", nil, "", false},
		{"dev with only the client id", "dev", map[string]string{dexIDVar: both[dexIDVar]}, dexSecretVar, false},
		{"dev with only the client secret", "dev", map[string]string{dexSecretVar: both[dexSecretVar]}, dexIDVar, false},
		{"dev with the OAuth app", "dev", both, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := dexValues(tc.env, tc.vars)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want an error naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			extra, _ := istioDig(v, "configs", "secret", "extra").(map[string]any)
			for k, val := range extra {
				if s, _ := val.(string); s == "" {
					t.Errorf("configs.secret.extra[%s] is %q: an empty Dex client id or secret", k, val)
				}
			}
			if tc.connector {
				if extra[dexIDKey] != tc.vars[dexIDVar] || extra[dexSecretKey] != tc.vars[dexSecretVar] {
					t.Errorf("configs.secret.extra = %v, want the client id and secret of the environment", extra)
				}
			} else {
				if len(extra) != 0 {
					t.Errorf("configs.secret.extra = %v, want none without the OAuth app", extra)
				}
				if on, ok := istioDig(v, "dex", "enabled").(bool); !ok || on {
					t.Errorf("dex.enabled = %v, want false without the OAuth app", istioDig(v, "dex", "enabled"))
				}
				if c, ok := istioDig(v, "configs", "cm", "dex.config").(string); !ok || c != "" {
					t.Errorf("configs.cm[dex.config] = %#v, want \"\" (the chart then leaves the connector out of argocd-cm)", istioDig(v, "configs", "cm", "dex.config"))
				}
			}
			if tc.env == "dev" {
				dexChartCheck(t, v, tc.connector)
			}
		})
	}
}

// The keys of argocd-secret that dex.config references as $dex.github.clientID/Secret.
const (
	dexIDKey     = "dex.github.clientID"
	dexSecretKey = "dex.github.clientSecret"
)

// dexChartCheck renders the official argo-cd chart with common.yaml, dev.yaml and the
// template's values (Helmfile's order) and checks what Argo CD and Dex get.
func dexChartCheck(t *testing.T, secretValues map[string]any, connector bool) {
	t.Helper()
	pin, err := gitopsArgoCDPin()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(root, sharedCharts))
	if err != nil {
		t.Skipf("no packaged official charts in %s beside the repository (a clone without ../shared): %v", sharedCharts, err)
	}
	od := &officialEnvData{available: officialVersions(entries)}
	path, got, err := officialChart(od, "argo-cd", pin)
	if err != nil {
		t.Fatal(err)
	}
	if got != pin {
		t.Logf("argo-cd is pinned at %s; rendering %s, the closest in %s", pin, got, sharedCharts)
	}
	ch, err := loader.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{}
	for _, f := range []string{"common.yaml", "dev.yaml"} {
		data, err := os.ReadFile(filepath.Join(root, argoCDValuesDir, f))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		values = eksMerge(values, v)
	}
	values = eksMerge(values, secretValues)
	schemas, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := istiocharts.Render(ch, values, "argocd", "argocd", render.APIVersions(schemas.Kinds()))
	if err != nil {
		t.Fatalf("argo-cd %s rejects the dev values: %v", got, err)
	}
	var cm, secret, dex *render.Object
	for _, o := range objs {
		switch {
		case o.Kind == "ConfigMap" && o.Name == "argocd-cm":
			cm = o
		case o.Kind == "Secret" && o.Name == "argocd-secret":
			secret = o
		case o.Kind == "Deployment" && o.Name == "argocd-dex-server":
			dex = o
		}
	}
	if cm == nil || secret == nil {
		t.Fatalf("argo-cd %s renders no argocd-cm or argocd-secret", got)
	}
	dexConfig, hasConfig := istioDig(cm.Body, "data", "dex.config").(string)
	data, _ := istioDig(secret.Body, "data").(map[string]any)
	for _, k := range []string{dexIDKey, dexSecretKey} {
		if v, ok := data[k]; ok && v == "" {
			t.Errorf("argocd-secret: data[%s] is empty", k)
		}
	}
	if connector {
		if !hasConfig || !strings.Contains(dexConfig, "$"+dexIDKey) || dex == nil {
			t.Errorf("with the OAuth app: argocd-cm dex.config %q, argocd-dex-server rendered %v; want the GitHub connector and Dex", dexConfig, dex != nil)
		}
		for _, k := range []string{dexIDKey, dexSecretKey} {
			if data[k] == nil {
				t.Errorf("argocd-secret: no data[%s], which dex.config references", k)
			}
		}
		return
	}
	if hasConfig {
		t.Errorf("argocd-cm: dex.config %q without the OAuth app: a GitHub connector with no client id", dexConfig)
	}
	if dex != nil {
		t.Errorf("%s rendered without the OAuth app: a Dex server with no connector", dex.ID())
	}
	for _, k := range []string{dexIDKey, dexSecretKey} {
		if _, ok := data[k]; ok {
			t.Errorf("argocd-secret: data[%s] without the OAuth app", k)
		}
	}
}

// gitopsArgoCDPin reads the argo-cd chart version the Helmfile pins.
func gitopsArgoCDPin() (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "deploy/argocd/shared/root/helmfile.d/argocd.yaml"))
	if err != nil {
		return "", err
	}
	// The file is two YAML documents with Go template expressions in values paths only.
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var h struct {
			Releases []struct {
				Chart   string `yaml:"chart"`
				Version string `yaml:"version"`
			} `yaml:"releases"`
		}
		if err := yaml.Unmarshal([]byte(doc), &h); err != nil {
			continue
		}
		for _, r := range h.Releases {
			if r.Chart == "argo/argo-cd" {
				return r.Version, nil
			}
		}
	}
	return "", fmt.Errorf("helmfile.d/argocd.yaml: no release of argo/argo-cd")
}
