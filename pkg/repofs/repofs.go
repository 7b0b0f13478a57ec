// Package repofs is the only way the platform reads the content of a repository.
//
// Everything in a repository is written by whoever opens a pull request, while the action
// reading it holds a write token, production secrets and cloud credentials. A symlink is
// the cheapest way to turn "read my chart" into "read your secrets": Helm's loader.LoadDir
// and os.ReadFile follow docs/x.txt -> /proc/self/environ, and the target's bytes end up in
// a published chart or in a ConfigMap committed to release/. A FIFO blocks its reader
// forever, a device or a huge file exhausts memory, and a "../" path or a file://
// dependency walks out of the checkout.
//
// So every read here
//   - takes a path relative to the repository root that must stay local (no "..", not
//     absolute) once cleaned;
//   - checks each component under the root with Lstat and refuses a symlink anywhere,
//     whether it points inside the repository or not: a repository has no need of one, and
//     allowing "safe" ones would mean resolving links, the very thing to avoid;
//   - accepts only regular files, opened through an os.Root (which cannot leave the root)
//     with O_NOFOLLOW|O_NONBLOCK and re-checked with Fstat against the Lstat result, so
//     that a file swapped for a link or a FIFO after the check is refused, not read;
//   - reads at most MaxFileSize bytes per file, and MaxChartSize bytes and MaxChartFiles
//     entries per chart (packaged sub-charts counted decompressed).
//
// Refusals are *Error values carrying the repository-relative path and the rule, for
// callers to turn into findings. The root itself is trusted: the operator chooses it.
package repofs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
)

// Limits. The per-file and per-chart sizes are Helm's own defaults
// (loader.MaxDecompressedFileSize and loader.MaxDecompressedChartSize), so that a chart
// loaded here is never refused later by Helm for its size, and the other way round.
const (
	// MaxFileSize bounds every file read from a repository: values files, Chart.yaml,
	// templates, secrets.yaml, Helmfiles.
	MaxFileSize int64 = 5 << 20
	// MaxChartSize bounds the bytes of one chart: its files plus the decompressed entries
	// of its packaged sub-charts.
	MaxChartSize int64 = 100 << 20
	// MaxChartFiles bounds the directory entries walked in one chart (ignored ones
	// included) and the entries of its packaged sub-charts. The largest chart of the
	// repository has a few dozen.
	MaxChartFiles = 10000
	// maxArchiveDepth bounds sub-charts packaged inside packaged sub-charts.
	maxArchiveDepth = 8
	// maxShown bounds how much of an attacker-written string (a path, an archive entry)
	// an error repeats.
	maxShown = 120
)

// Rules of the refusals, the Rule of an *Error.
const (
	// RuleSymlink: a symbolic link (or a hard link entry in an archive).
	RuleSymlink = "symlink"
	// RuleOutside: a path that is absolute or climbs out of the repository or the chart.
	RuleOutside = "outside-repository"
	// RuleNotRegular: a directory, FIFO, device or socket where a file was expected.
	RuleNotRegular = "not-regular"
	// RuleTooLarge: over MaxFileSize, MaxChartSize or MaxChartFiles.
	RuleTooLarge = "too-large"
	// RuleChanged: the file changed between the check and the read.
	RuleChanged = "changed"
	// RuleArchive: a packaged sub-chart that is not a readable gzipped tar archive.
	RuleArchive = "archive"
)

// Rules lists every rule of this package.
var Rules = []string{RuleSymlink, RuleOutside, RuleNotRegular, RuleTooLarge, RuleChanged, RuleArchive}

// IsRule reports whether rule is one of Rules.
func IsRule(rule string) bool {
	for _, r := range Rules {
		if r == rule {
			return true
		}
	}
	return false
}

// Error is a refusal to read something from a repository.
type Error struct {
	// Path is the offending file, slash-separated and relative to the repository root.
	Path string
	// Rule is one of Rules.
	Rule string
	// Msg says what was wrong; it never quotes file content.
	Msg string
}

func (e *Error) Error() string { return e.Path + ": " + e.Rule + ": " + e.Msg }

// Local cleans rel, a slash- or OS-separated path relative to the root, and refuses it
// unless it stays under the root.
func Local(rel string) (string, error) {
	c := filepath.Clean(filepath.FromSlash(rel))
	if rel == "" || !filepath.IsLocal(c) {
		return "", &Error{Path: shown(filepath.ToSlash(rel)), Rule: RuleOutside, Msg: "the path is absolute or leaves the repository"}
	}
	return c, nil
}

// Resolve joins ref, a relative path written in a repository file (a file:// dependency,
// a Helmfile's values file), to base, the repository-relative directory it is relative
// to, and returns the cleaned slash-separated repository-relative result. An absolute ref
// or one that climbs out of the repository is refused with RuleOutside.
func Resolve(base, ref string) (string, error) {
	ref = filepath.ToSlash(ref)
	if ref == "" || path.IsAbs(ref) || filepath.IsAbs(ref) || filepath.VolumeName(ref) != "" {
		return "", &Error{Path: shown(ref), Rule: RuleOutside, Msg: "an absolute path is never read; use a path relative to " + shown(base)}
	}
	joined := path.Join(filepath.ToSlash(base), ref)
	if _, err := Local(joined); err != nil {
		return "", &Error{Path: shown(ref), Rule: RuleOutside, Msg: "the path leaves the repository (relative to " + shown(base) + ")"}
	}
	return joined, nil
}

// Stat describes root/rel without following a symlink anywhere on the way: a symlink
// component, the last one included, is an *Error with RuleSymlink, and a missing one an
// error matching fs.ErrNotExist. The result may be a directory or any other kind of file.
func Stat(root, rel string) (fs.FileInfo, error) {
	c, err := Local(rel)
	if err != nil {
		return nil, err
	}
	return lstat(root, c)
}

// ReadFile reads root/rel, a regular file of at most MaxFileSize bytes reached without
// any symlink. A missing file is an error matching fs.ErrNotExist.
func ReadFile(root, rel string) ([]byte, error) {
	c, err := Local(rel)
	if err != nil {
		return nil, err
	}
	fi, err := lstat(root, c)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return readIn(r, c, fi, MaxFileSize)
}

// lstat checks every component of c (cleaned, local) under root with Lstat.
func lstat(root, c string) (fs.FileInfo, error) {
	if root == "" {
		// filepath.Join would make every path relative to the working directory.
		return nil, errors.New("repofs: no repository root")
	}
	if c == "." {
		return os.Lstat(root)
	}
	parts := strings.Split(c, string(filepath.Separator))
	cur := root
	var fi fs.FileInfo
	for i, p := range parts {
		cur = filepath.Join(cur, p)
		rel := path.Join(parts[:i+1]...)
		var err error
		if fi, err = os.Lstat(cur); err != nil {
			return nil, &fs.PathError{Op: "read", Path: rel, Err: underlying(err)}
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return nil, symlinkError(rel)
		}
		if i < len(parts)-1 && !fi.IsDir() {
			return nil, &fs.PathError{Op: "read", Path: rel, Err: syscall.ENOTDIR}
		}
	}
	return fi, nil
}

func symlinkError(rel string) *Error {
	return &Error{Path: rel, Rule: RuleSymlink, Msg: "a symbolic link, never followed in a repository: commit what it points to instead"}
}

// underlying drops the absolute path an *fs.PathError carries.
func underlying(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// kind names what a non-regular file is, for messages.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	default:
		return "not a regular file"
	}
}

// regular refuses what is not a regular file of at most limit bytes.
func regular(rel string, fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		if fi.Mode()&fs.ModeSymlink != 0 {
			return symlinkError(rel)
		}
		return &Error{Path: rel, Rule: RuleNotRegular, Msg: kind(fi.Mode()) + ", not a regular file"}
	}
	if fi.Size() > limit {
		return tooLarge(rel, limit)
	}
	return nil
}

func tooLarge(rel string, limit int64) *Error {
	return &Error{Path: rel, Rule: RuleTooLarge, Msg: fmt.Sprintf("larger than the limit of %d bytes", limit)}
}

// readIn reads c (cleaned, local) through r, checking the open file is the one want
// describes: a regular file of at most limit bytes.
func readIn(r *os.Root, c string, want fs.FileInfo, limit int64) ([]byte, error) {
	rel := filepath.ToSlash(c)
	if err := regular(rel, want, limit); err != nil {
		return nil, err
	}
	// The Root refuses any way out of the repository (it follows a link swapped in only
	// when it stays inside, and the Fstat check below then sees another file); O_NONBLOCK
	// keeps a FIFO swapped in from blocking the open.
	f, err := r.OpenFile(c, os.O_RDONLY|openFlags, 0)
	if err != nil {
		if fi, lerr := r.Lstat(c); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 || errors.Is(err, syscall.ELOOP) {
			return nil, symlinkError(rel)
		}
		return nil, &fs.PathError{Op: "read", Path: rel, Err: underlying(err)}
	}
	defer f.Close()
	got, err := f.Stat()
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: rel, Err: underlying(err)}
	}
	if err := regular(rel, got, limit); err != nil {
		return nil, err
	}
	// An inode number is reused as soon as it is freed: size and time are compared too.
	if !os.SameFile(want, got) || want.Size() != got.Size() || !want.ModTime().Equal(got.ModTime()) {
		return nil, &Error{Path: rel, Rule: RuleChanged, Msg: "the file was replaced while being read"}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: rel, Err: underlying(err)}
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(rel, limit)
	}
	return data, nil
}

// shown bounds an attacker-written string repeated in a message and makes control
// characters visible.
func shown(s string) string {
	if len(s) > maxShown {
		s = escape.Cut(s, maxShown) + "..."
	}
	if q := strconv.Quote(s); q[1:len(q)-1] != s {
		return q
	}
	return s
}

var utf8bom = []byte{0xEF, 0xBB, 0xBF}

func trimBOM(b []byte) []byte { return bytes.TrimPrefix(b, utf8bom) }
