// Package chartsource resolves the official Helm charts that Argo CD Applications and
// Helmfile releases name by (repoURL, chart, version), the way Argo CD would fetch them:
// from a Helm repository (its index.yaml) or from an OCI registry.
//
// Three places are looked at, in order:
//
//  1. --charts-from folders of packaged charts (<chart>-<version>.tgz, as ../shared/charts):
//     tests and air-gapped runs use them instead of the network. The archive's own
//     Chart.yaml must name the chart and version asked for, so that a renamed file does
//     not stand in for another release.
//  2. A content-addressed cache (<CacheDir>/sha256/<hex>.tgz plus a small ref -> digest
//     record). An archive is hashed again on every reuse: a cache is a directory anyone on
//     the machine may have written to, and a chart that changed there must not be rendered
//     as the release the Application pins.
//  3. The network, unless Offline: the repository's index.yaml (size-bounded, exact
//     version, the index's digest checked) or the registry's manifest and chart layer
//     (size-bounded, digests checked by oras-go).
//
// Everything fetched or read is hostile: the Application's names are written by whoever
// opens a pull request, and an index, a registry or an archive is someone else's server.
// Names are validated before they become file names or URLs, every read is bounded, and
// an archive's entries are checked (no links, no path leaving the chart, sizes within
// Helm's own limits, packaged sub-charts too) before Helm's loader sees it.
//
// A chart that cannot be resolved is an *Error naming the repoURL, chart and version and
// the reason, for the caller to turn into a finding about its Application; Resolve never
// skips silently. Istio's charts do not come through here: they come from the
// istio.io/istio module (internal/istiocharts).
package chartsource

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"golang.org/x/sync/singleflight"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
)

// Limits on what is downloaded. The archive bound is Helm's own bound on a decompressed
// chart: a compressed archive larger than that cannot be a chart Helm would load.
const (
	// DefaultMaxIndexSize bounds a Helm repository's index.yaml. The largest public
	// indexes (prometheus-community, bitnami) are tens of MiB.
	DefaultMaxIndexSize int64 = 64 << 20
	// DefaultMaxArchiveSize bounds a chart archive (.tgz) as downloaded or read.
	DefaultMaxArchiveSize int64 = 100 << 20
	// fetchTimeout bounds one download when the caller's context has no sooner deadline.
	fetchTimeout = 5 * time.Minute
	// maxShown bounds how much of a hostile string an error message repeats.
	maxShown = 200
)

// Ref names a chart as an Application's spec.source does.
type Ref struct {
	// RepoURL is a Helm repository ("https://prometheus-community.github.io/helm-charts")
	// or an OCI registry path as Argo CD writes it ("public.ecr.aws/aws-controllers-k8s",
	// with or without "oci://"); the chart's OCI repository is RepoURL/Chart.
	RepoURL string
	// Chart is the chart's name (spec.source.chart).
	Chart string
	// Version is the exact chart version (spec.source.targetRevision); ranges are refused.
	Version string
}

func (r Ref) String() string {
	return show(r.Chart) + " " + show(r.Version) + " from " + show(r.RepoURL)
}

// Resolved is a chart found for a Ref.
type Resolved struct {
	Ref
	// Chart is loaded afresh for each Resolve call, so that callers may process its
	// dependencies (which mutates it) concurrently.
	Chart *chart.Chart
	// Digest is "sha256:<hex>" of the chart archive (.tgz), Archive the archive itself
	// (checked; shared, not to be modified).
	Digest  string
	Archive []byte
	// Origin says where the archive came from, for messages: a file of a --charts-from
	// folder, "cache (<where it had been fetched from>)", a download URL or an OCI
	// reference with its manifest digest.
	Origin string
}

// Error is a chart that could not be resolved. Callers add the Application's name.
type Error struct {
	Ref Ref
	// Reason says why, in a few words, with what helps fix it: "version not in the
	// repository's index (has 88.4.0, 88.5.3)", "digest mismatch", "digest mismatch
	// in the cache", "offline, and not in the cache or ../shared/charts (has 88.4.0,
	// 88.5.3)", "invalid chart name", "not an exact chart version".
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("chart %s version %s (repoURL %s): %s", show(e.Ref.Chart), show(e.Ref.Version), show(e.Ref.RepoURL), e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Resolver finds charts. The zero value resolves online with no cache and no folders.
// A Resolver is safe for concurrent use; it remembers what it resolved for its lifetime
// (one run), and concurrent calls for the same Ref fetch it once.
type Resolver struct {
	// CacheDir is the content-addressed cache (the CLI passes <root>/.cache/charts);
	// "" means no cache.
	CacheDir string
	// ChartsFrom are folders of packaged charts named <chart>-<version>.tgz, searched
	// first, in order, whatever the Ref's RepoURL. A file found there whose Chart.yaml
	// names another chart or version is an error, not passed over.
	ChartsFrom []string
	// Offline forbids the network: only ChartsFrom and the cache are used.
	Offline bool
	// Repositories, when not nil, are the only repoURLs fetched from over the network
	// (compared without a trailing "/" or "oci://"). A repoURL is written by whoever opens
	// a pull request, and the runner that renders it may reach what its author cannot (the
	// cloud's metadata service, hosts inside the network): only repositories the platform
	// names are contacted. ChartsFrom and the cache serve any repoURL (nothing is fetched).
	Repositories []string
	// HTTPClient makes every request (Helm repositories and OCI registries); nil means
	// http.DefaultClient. Tests pass the client of an httptest TLS server.
	HTTPClient *http.Client
	// MaxIndexSize and MaxArchiveSize bound downloads and reads; 0 means
	// DefaultMaxIndexSize and DefaultMaxArchiveSize.
	MaxIndexSize, MaxArchiveSize int64
	// Log receives one status line per chart resolved and per cache entry discarded;
	// nil discards them.
	Log io.Writer

	once      sync.Once
	flights   singleflight.Group
	mu        sync.Mutex
	done      map[string]*archive   // ref key -> the verified archive
	indexes   map[string]*indexFile // index URL -> the parsed index
	authCache auth.Cache
}

// archive is a verified chart archive: its bytes matched the Ref's name and version and
// passed the archive checks.
type archive struct {
	data   []byte
	digest string
	origin string
}

func (r *Resolver) init() {
	r.once.Do(func() {
		r.done = map[string]*archive{}
		r.indexes = map[string]*indexFile{}
		r.authCache = auth.NewCache()
	})
}

// Resolve finds the chart ref names: in r.ChartsFrom, then in the cache, then (unless
// Offline) in its repository. A chart that cannot be resolved is an *Error; ctx bounds
// the network. Concurrent calls for one Ref share one fetch, made with the first
// caller's ctx.
func (r *Resolver) Resolve(ctx context.Context, ref Ref) (*Resolved, error) {
	r.init()
	src, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	key := src.key()
	r.mu.Lock()
	a := r.done[key]
	r.mu.Unlock()
	if a == nil {
		v, err, _ := r.flights.Do("chart\x00"+key, func() (any, error) {
			a, err := r.find(ctx, src)
			if err != nil {
				return nil, err
			}
			r.mu.Lock()
			r.done[key] = a
			r.mu.Unlock()
			return a, nil
		})
		if err != nil {
			return nil, err
		}
		a = v.(*archive)
	}
	// Loaded per call: a *chart.Chart is mutated by dependency processing.
	ch, err := loader.LoadArchive(bytes.NewReader(a.data))
	if err != nil {
		return nil, &Error{Ref: ref, Reason: "unloadable chart archive", Err: err}
	}
	return &Resolved{Ref: ref, Chart: ch, Digest: a.digest, Archive: a.data, Origin: a.origin}, nil
}

// find looks in the folders, the cache and the network, in that order.
func (r *Resolver) find(ctx context.Context, src *source) (*archive, error) {
	a, local, err := r.fromFolders(src)
	if err != nil || a != nil {
		return a, err
	}
	a, err = r.fromCache(src)
	if err != nil || a != nil {
		return a, err
	}
	if r.Offline {
		var looked []string
		if r.CacheDir != "" {
			looked = append(looked, "the cache")
		}
		if local != "" {
			looked = append(looked, local)
		}
		reason := "offline, with no --charts-from dirs and no cache"
		if len(looked) > 0 {
			reason = "offline, and not in " + strings.Join(looked, " or ")
		}
		return nil, src.fail(reason, nil)
	}
	if r.Repositories != nil && !r.allowed(src) {
		return nil, src.fail("not fetched: the repoURL is not one of the chart repositories the platform fetches from (a new one is added to the platform's list in a reviewed change, not by the pull request that uses it)", nil)
	}
	if src.oci {
		a, err = r.fromRegistry(ctx, src)
	} else {
		a, err = r.fromRepository(ctx, src)
	}
	if err != nil {
		return nil, err
	}
	r.logf("chartsource: %s: fetched %s (%s)", src.ref, a.origin, a.digest)
	r.store(src, a)
	return a, nil
}

// allowed reports whether src's repository is one of r.Repositories.
func (r *Resolver) allowed(src *source) bool {
	for _, repo := range r.Repositories {
		repo = strings.TrimSuffix(repo, "/")
		if src.oci {
			repo = strings.TrimPrefix(repo, "oci://")
		}
		if repo == src.base {
			return true
		}
	}
	return false
}

// verify checks data as the archive of src and returns it as an archive.
func verify(src *source, data []byte, origin string) (*archive, error) {
	ch, err := loadChecked(data)
	if err != nil {
		return nil, src.fail("unsafe or invalid chart archive "+origin, err)
	}
	if ch.Metadata.Name != src.ref.Chart || ch.Metadata.Version != src.ref.Version {
		return nil, src.fail(fmt.Sprintf("%s holds chart %s version %s", origin, show(ch.Metadata.Name), show(ch.Metadata.Version)), nil)
	}
	return &archive{data: data, digest: digestOf(data), origin: origin}, nil
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (r *Resolver) logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, format+"\n", args...)
	}
}

func (r *Resolver) maxIndex() int64 {
	if r.MaxIndexSize > 0 {
		return r.MaxIndexSize
	}
	return DefaultMaxIndexSize
}

func (r *Resolver) maxArchive() int64 {
	if r.MaxArchiveSize > 0 {
		return r.MaxArchiveSize
	}
	return DefaultMaxArchiveSize
}

func (r *Resolver) client() *http.Client {
	if r.HTTPClient != nil {
		return r.HTTPClient
	}
	return http.DefaultClient
}

// source is a validated Ref.
type source struct {
	ref  Ref
	oci  bool
	base string // the repository URL without a trailing slash; for OCI without "oci://"
}

// key identifies the chart across runs (the cache's ref record) and within one.
func (s *source) key() string {
	kind := "helm"
	if s.oci {
		kind = "oci"
	}
	return kind + "\x00" + s.base + "\x00" + s.ref.Chart + "\x00" + s.ref.Version
}

func (s *source) fail(reason string, err error) *Error {
	return &Error{Ref: s.ref, Reason: reason, Err: err}
}

var (
	// chartName is what may become a file name (<chart>-<version>.tgz) and a URL or OCI
	// path component: no separator, no leading dot.
	chartName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	// versionChars keeps a version usable in a file name and an OCI tag ("+" becomes "_").
	versionChars = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+_-]{0,127}$`)
)

// parseRef validates ref: every part is written by whoever opens a pull request.
func parseRef(ref Ref) (*source, error) {
	src := &source{ref: ref}
	if !chartName.MatchString(ref.Chart) {
		return nil, src.fail("invalid chart name", nil)
	}
	if !versionChars.MatchString(ref.Version) {
		return nil, src.fail("not an exact chart version", nil)
	}
	if _, err := semver.NewVersion(ref.Version); err != nil {
		return nil, src.fail("not an exact chart version", err)
	}
	u := strings.TrimSpace(ref.RepoURL)
	if u != ref.RepoURL || u == "" || len(u) > 2048 {
		return nil, src.fail("invalid repoURL", nil)
	}
	scheme, rest, hasScheme := strings.Cut(u, "://")
	switch {
	case !hasScheme || scheme == "oci":
		src.oci = true
		src.base = strings.TrimSuffix(rest, "/")
		if !hasScheme {
			src.base = strings.TrimSuffix(u, "/")
		}
		if _, err := ociReference(src); err != nil {
			return nil, src.fail("invalid OCI repoURL", err)
		}
	case scheme == "https" || scheme == "http":
		p, err := url.Parse(u)
		if err != nil {
			return nil, src.fail("invalid repoURL", err)
		}
		if p.Host == "" || p.User != nil || p.Fragment != "" {
			// Credentials in a URL would be repeated in every message and cache record.
			return nil, src.fail("invalid repoURL: a host, and no credentials or fragment", nil)
		}
		src.base = strings.TrimSuffix(u, "/")
	default:
		return nil, src.fail("unsupported repoURL scheme (https://, http:// or an OCI registry)", nil)
	}
	return src, nil
}

// plain is what a message may print as it is.
var plain = regexp.MustCompile(`^[A-Za-z0-9._:/@+~=?&%-]{1,200}$`)

// show is s for a message: as it is when made of ordinary URL and name characters, else
// quoted and cut (a repository's name may hold newlines or a megabyte).
func show(s string) string {
	if plain.MatchString(s) {
		return s
	}
	return escape.Quote(s, maxShown)
}

// errTooLarge marks a download or file over its bound (errors.Is).
var errTooLarge = errors.New("too large")

// sizeError is a download or file over its bound.
type sizeError struct{ size, limit int64 }

func (e *sizeError) Error() string {
	if e.size < 0 {
		return fmt.Sprintf("over the limit of %d bytes", e.limit)
	}
	return fmt.Sprintf("%d bytes, over the limit of %d", e.size, e.limit)
}

func (e *sizeError) Is(target error) bool { return target == errTooLarge }

// tooLarge is the error of size bytes (-1: more than limit) over limit.
func tooLarge(size, limit int64) error { return &sizeError{size: size, limit: limit} }
