package publish

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/registry"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// Artifact is a packaged chart as Helm pushes it: config (Chart.yaml as JSON), one chart
// layer, and a manifest annotated from the chart's metadata.
type Artifact struct {
	Manifest, Config, Layer ocispec.Descriptor
	store                   *memory.Store
}

// NewArtifact builds the OCI artifact of a chart archive, byte for byte what Helm's
// registry client Push builds (helm.sh/helm/v3/pkg/registry/client.go), with the creation
// time fixed to Epoch.
func NewArtifact(ctx context.Context, tgz []byte) (*Artifact, error) {
	ch, err := loader.LoadArchive(bytes.NewReader(tgz))
	if err != nil {
		return nil, fmt.Errorf("load package: %w", err)
	}
	configData, err := json.Marshal(ch.Metadata)
	if err != nil {
		return nil, err
	}
	a := &Artifact{store: memory.New()}
	a.Layer = content.NewDescriptorFromBytes(registry.ChartLayerMediaType, tgz)
	a.Config = content.NewDescriptorFromBytes(registry.ConfigMediaType, configData)
	manifest := ocispec.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		Config:      a.Config,
		Layers:      []ocispec.Descriptor{a.Layer},
		Annotations: ociAnnotations(ch.Metadata, Epoch.Format(time.RFC3339)),
	}
	manifestData, err := json.Marshal(manifest)
	if err != nil {
		return nil, err
	}
	a.Manifest = content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, manifestData)
	for _, b := range []struct {
		d    ocispec.Descriptor
		data []byte
	}{{a.Layer, tgz}, {a.Config, configData}, {a.Manifest, manifestData}} {
		if err := a.store.Push(ctx, b.d, bytes.NewReader(b.data)); err != nil {
			return nil, err
		}
	}
	if err := a.store.Tag(ctx, a.Manifest, ch.Metadata.Version); err != nil {
		return nil, err
	}
	return a, nil
}

// Push copies the artifact to target, tagged with the chart's version.
func (a *Artifact) Push(ctx context.Context, target oras.Target, version string) error {
	_, err := oras.Copy(ctx, a.store, version, target, version, oras.DefaultCopyOptions)
	return err
}

// ociAnnotations mirrors Helm's generateOCIAnnotations: description, title, version, url,
// created, source, authors, then the chart's own annotations (title and version excepted).
func ociAnnotations(meta *chart.Metadata, created string) map[string]string {
	out := map[string]string{}
	add := func(k, v string) {
		if strings.TrimSpace(v) != "" {
			out[k] = v
		}
	}
	add(ocispec.AnnotationDescription, meta.Description)
	add(ocispec.AnnotationTitle, meta.Name)
	add(ocispec.AnnotationVersion, meta.Version)
	add(ocispec.AnnotationURL, meta.Home)
	add(ocispec.AnnotationCreated, created)
	if len(meta.Sources) > 0 {
		add(ocispec.AnnotationSource, meta.Sources[0])
	}
	if len(meta.Maintainers) > 0 {
		var b strings.Builder
		for i, m := range meta.Maintainers {
			b.WriteString(m.Name)
			if m.Email != "" {
				b.WriteString(" (" + m.Email + ")")
			}
			if i < len(meta.Maintainers)-1 {
				b.WriteString(", ")
			}
		}
		add(ocispec.AnnotationAuthors, b.String())
	}
	for k, v := range meta.Annotations {
		if k == ocispec.AnnotationVersion || k == ocispec.AnnotationTitle {
			continue
		}
		out[k] = v
	}
	return out
}

// Registry is where charts go: an OCI registry ("HOST[/PREFIX]") or, when Host is empty,
// OCI image layouts under a local directory (one layout per repository).
type Registry struct {
	Host   string
	Prefix string
	// Layout is the directory of the local layouts (Host empty).
	Layout string
}

// ParseRegistry reads "HOST[/PREFIX]", with or without oci://, or "oci-layout:DIR"
// (LayoutPrefix) for local layouts.
func ParseRegistry(s string) (Registry, error) {
	if dir, ok := strings.CutPrefix(s, LayoutPrefix); ok {
		if dir == "" {
			return Registry{}, fmt.Errorf("registry %q: want %sDIR", s, LayoutPrefix)
		}
		return Registry{Layout: filepath.Clean(filepath.FromSlash(dir))}, nil
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "oci://"), "/")
	host, prefix, _ := strings.Cut(s, "/")
	if host == "" || strings.ContainsAny(host, " @") {
		return Registry{}, fmt.Errorf("registry %q: want HOST[/PREFIX], e.g. 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/charts", s)
	}
	r := Registry{Host: host, Prefix: prefix}
	if _, err := remote.NewRepository(r.Repository("probe")); err != nil {
		return Registry{}, fmt.Errorf("registry %q: %w", s, err)
	}
	return r, nil
}

// Repository is the full repository of a chart name ("account"): HOST/PREFIX/account, the
// OCI reference the prd Applications pull (repoURL HOST/PREFIX, chart account). For a
// layout, it is the layout's directory.
func (r Registry) Repository(name string) string {
	if r.Host == "" {
		return filepath.Join(r.Layout, filepath.FromSlash(name))
	}
	parts := []string{r.Host}
	if r.Prefix != "" {
		parts = append(parts, r.Prefix)
	}
	return strings.Join(append(parts, name), "/")
}

func (r Registry) String() string {
	if r.Host == "" {
		return r.Layout
	}
	if r.Prefix == "" {
		return r.Host
	}
	return r.Host + "/" + r.Prefix
}

var ecrHost = regexp.MustCompile(`^\d{12}\.dkr[.-]ecr(?:-fips)?\.([a-z0-9-]+)\.(?:amazonaws\.com(?:\.cn)?|on\.aws)$`)

// ECRRegion returns the region of an ECR registry host, "" for other registries.
func ECRRegion(host string) string {
	h, _, _ := strings.Cut(host, ":")
	if m := ecrHost.FindStringSubmatch(h); m != nil {
		return m[1]
	}
	return ""
}

// ecrCredential exchanges the AWS credentials of the environment (on a GitHub runner, the
// OIDC role: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE) for a registry password with
// ecr:GetAuthorizationToken. endpoint overrides the ECR API endpoint (also honoured from
// AWS_ENDPOINT_URL_ECR by the SDK).
func ecrCredential(ctx context.Context, region, endpoint string) (auth.Credential, error) {
	user, pass, err := ECRLogin(ctx, region, endpoint, nil)
	if err != nil {
		return auth.EmptyCredential, err
	}
	return auth.Credential{Username: user, Password: pass}, nil
}

// ECRLogin is `aws ecr get-login-password`: the registry user (AWS) and password that
// ecr:GetAuthorizationToken issues in region, with creds (nil: the environment's default
// chain) at endpoint (empty: AWS_ENDPOINT_URL_ECR, else AWS's).
func ECRLogin(ctx context.Context, region, endpoint string, creds aws.CredentialsProvider) (user, password string, err error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
	if creds != nil {
		opts = append(opts, awsconfig.WithCredentialsProvider(creds))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return "", "", fmt.Errorf("aws config: %w", err)
	}
	client := ecr.NewFromConfig(cfg, func(o *ecr.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	out, err := client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return "", "", fmt.Errorf("ecr get-authorization-token: %w", err)
	}
	if len(out.AuthorizationData) == 0 || out.AuthorizationData[0].AuthorizationToken == nil {
		return "", "", errors.New("ecr get-authorization-token: no authorization data")
	}
	token, err := base64.StdEncoding.DecodeString(*out.AuthorizationData[0].AuthorizationToken)
	if err != nil {
		return "", "", fmt.Errorf("ecr authorization token: %w", err)
	}
	user, password, ok := strings.Cut(string(token), ":")
	if !ok {
		return "", "", errors.New("ecr authorization token: not user:password")
	}
	return user, password, nil
}

// target opens the repository of the chart named name for reading and writing.
func (p *Publisher) target(ctx context.Context, reg Registry, name string, cred auth.CredentialFunc) (oras.Target, error) {
	if reg.Host == "" {
		dir := reg.Repository(name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		return oci.NewWithContext(ctx, dir)
	}
	repo, err := remote.NewRepository(reg.Repository(name))
	if err != nil {
		return nil, err
	}
	repo.PlainHTTP = p.PlainHTTP
	client := p.HTTPClient
	if client == nil {
		client = retry.DefaultClient
	}
	repo.Client = &auth.Client{Client: client, Cache: auth.NewCache(), Credential: cred}
	return repo, nil
}

// credential picks the registry's credentials: an ECR token for ECR hosts (or any host when
// ECRRegion is set), else the Docker
// configuration (`docker login`, `helm registry login` with the Docker config) if any.
func (p *Publisher) credential(ctx context.Context, reg Registry) (auth.CredentialFunc, error) {
	if reg.Host == "" {
		return nil, nil
	}
	region := p.ECRRegion
	if region == "" {
		region = ECRRegion(reg.Host)
	}
	if region != "" {
		cred, err := ecrCredential(ctx, region, p.ECREndpoint)
		if err != nil {
			return nil, err
		}
		return auth.StaticCredential(reg.Host, cred), nil
	}
	store, err := credentials.NewStoreFromDocker(credentials.StoreOptions{})
	if err != nil {
		return nil, fmt.Errorf("docker credentials: %w", err)
	}
	return credentials.Credential(store), nil
}
