package chartsource

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

const (
	// maxFolderEntries bounds the entries listed in one --charts-from folder.
	maxFolderEntries = 100000
	// maxListed bounds the versions an error lists (the newest are kept).
	maxListed = 12
)

// fromFolders looks for <chart>-<version>.tgz in each of r.ChartsFrom. A file found there
// is the answer or an error (a renamed or broken archive is never passed over for the
// network). Otherwise it returns a description of what the folders hold, for the offline
// error: "../shared/charts (has 88.4.0, 88.5.3)".
func (r *Resolver) fromFolders(src *source) (*archive, string, error) {
	name := src.ref.Chart + "-" + src.ref.Version + ".tgz"
	var looked []string
	for _, dir := range r.ChartsFrom {
		file := filepath.Join(dir, name)
		data, err := readRegular(dir, name, r.maxArchive())
		if err == nil {
			a, err := verify(src, data, file)
			if err != nil {
				return nil, "", err
			}
			r.logf("chartsource: %s: %s (%s)", src.ref, file, a.digest)
			return a, "", nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", src.fail("unreadable --charts-from archive "+show(file), err)
		}
		versions, err := folderVersions(dir, src.ref.Chart)
		if err != nil {
			return nil, "", src.fail("unreadable --charts-from dir "+show(dir), err)
		}
		has := "has no version of it"
		if len(versions) > 0 {
			has = "has " + strings.Join(versions, ", ")
		}
		looked = append(looked, fmt.Sprintf("%s (%s)", show(dir), has))
	}
	return nil, strings.Join(looked, ", "), nil
}

// folderVersions lists the versions of chart packaged in dir, by file name, oldest first
// (the newest maxListed of them).
func folderVersions(dir, chart string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var vs []*semver.Version
	raw := map[*semver.Version]string{}
	seen := 0
	for seen < maxFolderEntries {
		names, err := f.Readdirnames(1024)
		seen += len(names)
		for _, n := range names {
			rest, ok := strings.CutPrefix(n, chart+"-")
			if !ok || !strings.HasSuffix(rest, ".tgz") {
				continue
			}
			// "kube-prometheus-stack-88.5.3.tgz" is not a version of "kube-prometheus".
			v, err := semver.NewVersion(strings.TrimSuffix(rest, ".tgz"))
			if err != nil {
				continue
			}
			vs = append(vs, v)
			raw[v] = strings.TrimSuffix(rest, ".tgz")
		}
		if errors.Is(err, io.EOF) || err == nil && len(names) == 0 {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	sort.Sort(semver.Collection(vs))
	if len(vs) > maxListed {
		vs = vs[len(vs)-maxListed:]
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = show(raw[v])
	}
	return out, nil
}

// readRegular reads dir/name, a regular file of at most limit bytes, without following a
// symlink at name (the folder itself is the operator's choice) and without blocking on a
// FIFO put in its place. A missing file is fs.ErrNotExist.
func readRegular(dir, name string, limit int64) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fi, err := root.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is a %s, not a regular file", show(name), kind(fi.Mode()))
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: %w", show(name), tooLarge(fi.Size(), limit))
	}
	f, err := root.OpenFile(name, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The file opened must be the file checked, not one swapped in since.
	if now, err := f.Stat(); err != nil || !now.Mode().IsRegular() || !os.SameFile(fi, now) {
		return nil, fmt.Errorf("%s changed while it was read", show(name))
	}
	return readLimited(f, limit)
}

// readLimited reads r to its end, refusing more than limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(-1, limit)
	}
	return data, nil
}

// kind names a file type for a message.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
