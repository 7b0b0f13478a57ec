package chartsource

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

// The cache: archives by content, <CacheDir>/sha256/<hex>.tgz, and one record per ref,
// <CacheDir>/refs/<sha256 of the ref's key>.json, naming the archive's digest. A record's
// file name is a hash so that no part of a hostile ref becomes a path.
const (
	blobDir   = "sha256"
	refDir    = "refs"
	maxRecord = 64 << 10
)

// record is a ref's entry in the cache.
type record struct {
	RepoURL string `json:"repoURL"`
	Chart   string `json:"chart"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
	// Origin is where the archive was fetched from.
	Origin string `json:"origin"`
}

var digestHex = regexp.MustCompile(`^sha256:([0-9a-f]{64})$`)

func recordName(src *source) string {
	sum := sha256.Sum256([]byte(src.key()))
	return hex.EncodeToString(sum[:]) + ".json"
}

// fromCache returns the cached archive of src, if any, hashed again: a record or an
// archive that does not match is removed (and refetched when online; offline it is an
// error, never a silent fallback to another source).
func (r *Resolver) fromCache(src *source) (*archive, error) {
	if r.CacheDir == "" {
		return nil, nil
	}
	refs := filepath.Join(r.CacheDir, refDir)
	data, err := readRegular(refs, recordName(src), maxRecord)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	discard := func(reason string, err error) (*archive, error) {
		r.removeCached(src, "")
		if r.Offline {
			return nil, src.fail(reason, err)
		}
		r.logf("chartsource: %s: cache entry discarded (%s), fetching again", src.ref, reason)
		return nil, nil
	}
	if err != nil {
		return discard("unreadable cache record", err)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return discard("unreadable cache record", err)
	}
	m := digestHex.FindStringSubmatch(rec.Digest)
	if m == nil || rec.RepoURL != src.base || rec.Chart != src.ref.Chart || rec.Version != src.ref.Version {
		return discard("cache record does not match the chart", nil)
	}
	blob := filepath.Join(r.CacheDir, blobDir, m[1]+".tgz")
	data, err = readRegular(filepath.Join(r.CacheDir, blobDir), m[1]+".tgz", r.maxArchive())
	if errors.Is(err, fs.ErrNotExist) {
		return discard("cached archive missing", nil)
	}
	if err != nil {
		return discard("unreadable cached archive", err)
	}
	if got := digestOf(data); got != rec.Digest {
		r.removeCached(src, m[1])
		if r.Offline {
			return nil, src.fail("digest mismatch in the cache", fmt.Errorf("%s is %s, its record says %s", blob, got, rec.Digest))
		}
		r.logf("chartsource: %s: digest mismatch in the cache (%s is %s, not %s), fetching again", src.ref, blob, got, rec.Digest)
		return nil, nil
	}
	a, err := verify(src, data, "cache "+blob)
	if err != nil {
		return discard("cached archive refused", err)
	}
	a.origin = "cache (" + show(rec.Origin) + ")"
	r.logf("chartsource: %s: %s %s (%s)", src.ref, a.origin, blob, a.digest)
	return a, nil
}

// removeCached removes src's record and, when hexDigest is set, the archive it named.
func (r *Resolver) removeCached(src *source, hexDigest string) {
	_ = os.Remove(filepath.Join(r.CacheDir, refDir, recordName(src)))
	if hexDigest != "" {
		_ = os.Remove(filepath.Join(r.CacheDir, blobDir, hexDigest+".tgz"))
	}
}

// store writes a fetched archive and its record to the cache. A cache that cannot be
// written is reported on Log and otherwise ignored: the chart was resolved.
func (r *Resolver) store(src *source, a *archive) {
	if r.CacheDir == "" {
		return
	}
	if err := r.write(src, a); err != nil {
		r.logf("chartsource: %s: not cached: %v", src.ref, err)
	}
}

func (r *Resolver) write(src *source, a *archive) error {
	m := digestHex.FindStringSubmatch(a.digest)
	if m == nil {
		return fmt.Errorf("unexpected digest %s", a.digest)
	}
	blobs, refs := filepath.Join(r.CacheDir, blobDir), filepath.Join(r.CacheDir, refDir)
	for _, d := range []string{blobs, refs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The archive first: a record never names an archive that is not there yet.
	if err := writeAtomic(blobs, m[1]+".tgz", a.data); err != nil {
		return err
	}
	rec, err := json.MarshalIndent(record{RepoURL: src.base, Chart: src.ref.Chart, Version: src.ref.Version, Digest: a.digest, Origin: a.origin}, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(refs, recordName(src), append(rec, '\n'))
}

// writeAtomic writes dir/name through a temporary file renamed into place, so that a
// reader (another run sharing the cache) sees the whole file or none.
func writeAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write cache %s: %w", name, err)
	}
	return nil
}
