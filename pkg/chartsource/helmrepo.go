package chartsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"
)

// userAgent is sent with every request to a Helm repository.
const userAgent = "Helm/3 (platform chartsource)"

// fromRepository fetches src from a Helm repository: its index.yaml, the exact version's
// entry, the archive at the entry's first URL, checked against the entry's digest.
func (r *Resolver) fromRepository(ctx context.Context, src *source) (*archive, error) {
	if r.Offline {
		return nil, src.fail("offline", nil) // never reached: find checks first
	}
	indexURL, err := resolveReference(src.base, "index.yaml")
	if err != nil {
		return nil, src.fail("invalid repoURL", err)
	}
	idx, err := r.index(ctx, indexURL)
	if err != nil {
		reason := "repository index unavailable"
		if errors.Is(err, errTooLarge) {
			reason = "repository index too large"
		}
		return nil, src.fail(reason, err)
	}
	versions, ok := idx.Entries[src.ref.Chart]
	if !ok {
		return nil, src.fail("chart not in the repository's index", nil)
	}
	var cv *indexEntry
	for _, v := range versions {
		if v != nil && v.Version == src.ref.Version {
			cv = v
			break
		}
	}
	if cv == nil {
		return nil, src.fail("version not in the repository's index (has "+newest(versions)+")", nil)
	}
	if len(cv.URLs) == 0 {
		return nil, src.fail("the index entry has no URL", nil)
	}
	u, err := resolveReference(src.base, cv.URLs[0])
	if err != nil {
		return nil, src.fail("invalid chart URL in the index", err)
	}
	if p, err := url.Parse(u); err != nil || p.Scheme != "https" && p.Scheme != "http" || p.Host == "" || p.User != nil {
		return nil, src.fail("invalid chart URL in the index: "+show(u), err)
	}
	data, err := r.get(ctx, u, r.maxArchive())
	if err != nil {
		reason := "chart download failed"
		if errors.Is(err, errTooLarge) {
			reason = "chart archive too large"
		}
		return nil, src.fail(reason, err)
	}
	got := digestOf(data)
	if want := strings.ToLower(strings.TrimPrefix(cv.Digest, "sha256:")); want != "" && "sha256:"+want != got {
		return nil, src.fail("digest mismatch", fmt.Errorf("the index says sha256:%s, %s is %s", show(want), show(u), got))
	}
	return verify(src, data, show(u))
}

// indexFile is what a Helm repository's index.yaml says of its charts, as far as a
// download needs: Helm's repo.IndexFile without the rest. (Helm's pkg/repo would bring
// pkg/getter, pkg/cli and pkg/kube, and with them kubectl and kustomize, into the
// binary, for a YAML document of four fields.)
type indexFile struct {
	APIVersion string                   `json:"apiVersion"`
	Entries    map[string][]*indexEntry `json:"entries"`
}

// indexEntry is one chart version of an index (Helm's repo.ChartVersion: its
// chart.Metadata inline, then urls and digest).
type indexEntry struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	URLs    []string `json:"urls"`
	// Digest is the hex SHA-256 of the archive, when the index gives one.
	Digest string `json:"digest"`
}

// index returns the parsed index at indexURL, fetched once per Resolver: several charts
// come from one repository (argo-cd and argocd-apps).
func (r *Resolver) index(ctx context.Context, indexURL string) (*indexFile, error) {
	r.mu.Lock()
	idx := r.indexes[indexURL]
	r.mu.Unlock()
	if idx != nil {
		return idx, nil
	}
	v, err, _ := r.flights.Do("index\x00"+indexURL, func() (any, error) {
		data, err := r.get(ctx, indexURL, r.maxIndex())
		if err != nil {
			return nil, err
		}
		idx, err := parseIndex(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", show(indexURL), err)
		}
		r.mu.Lock()
		r.indexes[indexURL] = idx
		r.mu.Unlock()
		return idx, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*indexFile), nil
}

// parseIndex parses an index as Helm's loader does: JSON or YAML, an apiVersion required.
// sigs.k8s.io/yaml bounds alias expansion, so a small hostile document cannot grow into
// a huge one.
func parseIndex(data []byte) (*indexFile, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("not a Helm repository index: empty")
	}
	var idx indexFile
	if err := yaml.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("not a Helm repository index: %w", err)
	}
	if idx.APIVersion == "" {
		return nil, errors.New("not a Helm repository index: no apiVersion")
	}
	return &idx, nil
}

// resolveReference resolves ref, an index's chart URL, against the repository URL, as
// Helm's repo.ResolveReferenceURL does: relative to the repository as a directory, with
// the repository's query kept.
func resolveReference(base, ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	if r.IsAbs() {
		return ref, nil
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	b.RawPath = strings.TrimSuffix(b.RawPath, "/") + "/"
	b.Path = strings.TrimSuffix(b.Path, "/") + "/"
	u := b.ResolveReference(r)
	u.RawQuery = b.RawQuery
	return u.String(), nil
}

// newest lists the newest versions of an index entry, for an error.
func newest(versions []*indexEntry) string {
	var vs []*semver.Version
	raw := map[*semver.Version]string{}
	for _, cv := range versions {
		if cv == nil {
			continue
		}
		v, err := semver.NewVersion(cv.Version)
		if err != nil {
			continue
		}
		vs = append(vs, v)
		raw[v] = cv.Version
	}
	if len(vs) == 0 {
		return "no version"
	}
	sort.Sort(semver.Collection(vs))
	more := ""
	if len(vs) > maxListed {
		more = fmt.Sprintf(" and %d older", len(vs)-maxListed)
		vs = vs[len(vs)-maxListed:]
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = show(raw[v])
	}
	return strings.Join(out, ", ") + more
}

// get downloads u, refusing more than limit bytes.
func (r *Resolver) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := r.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The status code only: a reason phrase is the server's text.
		return nil, fmt.Errorf("GET %s: %d %s", show(u), resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("GET %s: %w", show(u), tooLarge(resp.ContentLength, limit))
	}
	data, err := readLimited(resp.Body, limit)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", show(u), err)
	}
	return data, nil
}
