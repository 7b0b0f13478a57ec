package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
	"github.com/microservices-manifests/microservices-manifests/pkg/publish"
)

// officialPrefix is the path under the stand-in where the official charts of
// OCISource.ChartsFrom are served.
const officialPrefix = "official"

// notServed says why an official chart that is available offline is still not served to the
// embedded run's Argo CD: its admission webhooks (failurePolicy Fail) would be served by
// kwok pods, which answer nothing, so the API server would refuse the objects they cover.
var notServed = map[string]string{
	"kube-prometheus-stack":        "its operator's admission webhook (failurePolicy Fail) would be a kwok pod: every PrometheusRule would be refused",
	"aws-load-balancer-controller": "its validating webhook for Ingresses and its mutating webhook for pods (failurePolicy Fail) would be kwok pods: every Ingress would be refused",
	"external-secrets":             "its validating webhooks for ExternalSecrets and SecretStores (failurePolicy Fail) would be kwok pods",
}

// officialSource is an official chart the embedded run serves from a folder of packaged
// charts (../shared/charts) through the ECR stand-in, in place of its chart repository.
type officialSource struct {
	app, chart, version, repoURL string
	// archive is the chart (.tgz) as chartsource found it in the folder: its name and
	// version validated, its Chart.yaml matching them, every entry checked.
	archive []byte
}

// serveOfficial decides for one `source: helm` entry: "" and a source when it is served
// (pushed into the stand-in, its repoURL overridden), else why not.
func (a *ArgoCD) serveOfficial(name string, e map[string]any) (*officialSource, string) {
	chart, _ := e["chart"].(string)
	if chart == "" {
		chart = name
	}
	version := fmt.Sprint(e["version"])
	repoURL := fmt.Sprint(e["repoURL"])
	if a.OCI == nil || a.OCI.ChartsFrom == "" {
		return nil, fmt.Sprintf("%s %s, unreachable offline", repoURL, version)
	}
	// The folder only, never the network: the chart's name and version come from the
	// Application entry and are validated before they name a file.
	res, err := (&chartsource.Resolver{ChartsFrom: []string{a.OCI.ChartsFrom}, Offline: true}).Resolve(context.Background(),
		chartsource.Ref{RepoURL: repoURL, Chart: chart, Version: version})
	if err != nil {
		return nil, fmt.Sprintf("%s %s %s, not in %s: %v", repoURL, chart, version, a.OCI.ChartsFrom, err)
	}
	if why, ok := notServed[chart]; ok {
		return nil, fmt.Sprintf("%s %s in %s, not served: %s", chart, version, a.OCI.ChartsFrom, why)
	}
	host, _, _ := strings.Cut(a.OCI.RepoURL, "/")
	return &officialSource{app: name, chart: chart, version: version, repoURL: host + "/" + officialPrefix, archive: res.Archive}, ""
}

// pushOfficial pushes the served official charts into the stand-in, with the same login as
// the published charts.
func (a *ArgoCD) pushOfficial(ctx context.Context, served []*officialSource) error {
	if len(served) == 0 {
		return nil
	}
	ca, err := os.ReadFile(a.OCI.CAFile)
	if err != nil {
		return fmt.Errorf("registry CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return errors.New("registry CA: no certificate")
	}
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	for _, s := range served {
		art, err := publish.NewArtifact(ctx, s.archive)
		if err != nil {
			return fmt.Errorf("%s %s: %w", s.chart, s.version, err)
		}
		repo, err := remote.NewRepository(s.repoURL + "/" + s.chart)
		if err != nil {
			return err
		}
		host, _, _ := strings.Cut(s.repoURL, "/")
		repo.Client = &auth.Client{Client: client, Cache: auth.NewCache(),
			Credential: auth.StaticCredential(host, auth.Credential{Username: a.OCI.Username, Password: a.OCI.Password})}
		if err := art.Push(ctx, repo, s.version); err != nil {
			return fmt.Errorf("push %s %s into the stand-in: %w", s.chart, s.version, err)
		}
		a.logf("argocd: serving official chart %s %s from %s as %s/%s (Application %s)", s.chart, s.version, a.OCI.ChartsFrom, s.repoURL, s.chart, s.app)
	}
	return nil
}
