package chartsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// maxManifest bounds an OCI manifest (oras-go's own default for metadata).
const maxManifest = 4 << 20

// ociReference is the chart's OCI reference: <registry>/<path>/<chart>:<tag>, the tag
// being the version with "+" written "_", as Helm pushes it.
func ociReference(src *source) (registry.Reference, error) {
	tag := strings.ReplaceAll(src.ref.Version, "+", "_")
	ref, err := registry.ParseReference(src.base + "/" + src.ref.Chart + ":" + tag)
	if err != nil {
		return ref, err
	}
	// "host/path:tag@digest" and the like parse too; only a plain tag is what was asked.
	if ref.Reference != tag || ref.Repository != strings.TrimPrefix(src.base+"/"+src.ref.Chart, ref.Registry+"/") {
		return ref, fmt.Errorf("%s is not a registry path", show(src.base))
	}
	return ref, nil
}

// fromRegistry pulls src from an OCI registry with oras-go, the library under Helm's own
// registry client, used directly so that the manifest and the chart layer are
// size-bounded before they are read (Helm's Pull copies whatever the manifest says).
// Pulls are anonymous: official charts are public (ECR Public hands out anonymous tokens).
func (r *Resolver) fromRegistry(ctx context.Context, src *source) (*archive, error) {
	if r.Offline {
		return nil, src.fail("offline", nil) // never reached: find checks first
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	ref, err := ociReference(src)
	if err != nil {
		return nil, src.fail("invalid OCI repoURL", err)
	}
	rep := &remote.Repository{
		Reference:        ref,
		Client:           &auth.Client{Client: r.client(), Cache: r.authCache, Header: map[string][]string{"User-Agent": {userAgent}}},
		MaxMetadataBytes: maxManifest,
	}
	where := "oci://" + ref.String()
	desc, rc, err := rep.FetchReference(ctx, ref.Reference)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return nil, src.fail("version not in the registry", err)
		}
		return nil, src.fail("registry unavailable", err)
	}
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		rc.Close()
		return nil, src.fail("not a Helm chart: manifest media type "+show(desc.MediaType), nil)
	}
	if desc.Size > maxManifest {
		rc.Close()
		return nil, src.fail("manifest too large", nil)
	}
	raw, err := content.ReadAll(rc, desc)
	rc.Close()
	if err != nil {
		return nil, src.fail("unreadable manifest", err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, src.fail("unreadable manifest", err)
	}
	if m.Config.MediaType != helmregistry.ConfigMediaType {
		return nil, src.fail("not a Helm chart: config media type "+show(m.Config.MediaType), nil)
	}
	var layers []ocispec.Descriptor
	for _, l := range m.Layers {
		if l.MediaType == helmregistry.ChartLayerMediaType || l.MediaType == helmregistry.LegacyChartLayerMediaType {
			layers = append(layers, l)
		}
	}
	if len(layers) != 1 {
		return nil, src.fail(fmt.Sprintf("not a Helm chart: %d chart layers", len(layers)), nil)
	}
	layer := layers[0]
	if layer.Size < 0 || layer.Size > r.maxArchive() {
		return nil, src.fail("chart archive too large", fmt.Errorf("layer %s: %w", layer.Digest, tooLarge(layer.Size, r.maxArchive())))
	}
	lrc, err := rep.Fetch(ctx, layer)
	if err != nil {
		return nil, src.fail("chart download failed", err)
	}
	// ReadAll reads exactly the descriptor's size and checks its digest.
	data, err := content.ReadAll(lrc, layer)
	lrc.Close()
	if err != nil {
		reason := "chart download failed"
		if errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrTrailingData) {
			reason = "digest mismatch"
		}
		return nil, src.fail(reason, fmt.Errorf("layer %s: %w", layer.Digest, err))
	}
	return verify(src, data, where+"@"+desc.Digest.String())
}
