package repofs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/ignore"
)

// LoadChart loads the chart in root/chartDir the way Helm's loader.LoadDir does
// (.helmignore and its defaults honoured, a UTF-8 BOM trimmed), except that the
// directory is walked here, with every check of this package, and Helm only ever sees
// the bytes (loader.LoadFiles). file:// dependencies are not resolved: see Resolve.
func LoadChart(root, chartDir string) (*chart.Chart, error) {
	files, err := ChartFiles(root, chartDir)
	if err != nil {
		return nil, err
	}
	return loader.LoadFiles(files)
}

// subchartArchive matches the files loader.LoadFiles unpacks as packaged sub-charts:
// charts/x.tgz, and charts/x.tgz of a vendored sub-chart directory (charts/a/charts/x.tgz).
var subchartArchive = regexp.MustCompile(`^(charts/[^/]+/)*charts/[^/]+\.tgz$`)

// ChartFiles reads the files of the chart in root/chartDir, named relative to the chart
// directory, for loader.LoadFiles. Nothing is followed: a symlink anywhere (the chart
// directory itself, a template, a file under docs/) is refused, as is any file that is not
// regular, unless .helmignore ignores it; packaged sub-charts are checked entry by entry.
func ChartFiles(root, chartDir string) ([]*loader.BufferedFile, error) {
	dir, err := Local(chartDir)
	if err != nil {
		return nil, err
	}
	fi, err := lstat(root, dir)
	if err != nil {
		return nil, err
	}
	slashDir := filepath.ToSlash(dir)
	if !fi.IsDir() {
		return nil, &Error{Path: slashDir, Rule: RuleNotRegular, Msg: kind(fi.Mode()) + ", not a chart directory"}
	}
	// A missing Chart.yaml is reported before a possibly large directory is walked.
	if _, err := lstat(root, filepath.Join(dir, "Chart.yaml")); err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	w := &chartWalk{root: r, dir: dir, slashDir: slashDir, budget: MaxChartSize, rules: ignore.Empty()}
	if hi, err := lstat(root, filepath.Join(dir, ignore.HelmIgnore)); err == nil {
		data, err := readIn(r, filepath.Join(dir, ignore.HelmIgnore), hi, MaxFileSize)
		if err != nil {
			return nil, err
		}
		if w.rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", slashDir, ignore.HelmIgnore, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	w.rules.AddDefaults()
	// Every entry is checked, and the chart's size known, before the first byte is read.
	if err := w.walk(""); err != nil {
		return nil, err
	}
	var total int64
	for _, e := range w.found {
		data, err := readIn(r, filepath.Join(dir, filepath.FromSlash(e.name)), e.info, MaxFileSize)
		if err != nil {
			return nil, err
		}
		// Files are re-checked as opened; one grown since the walk still counts.
		if total += int64(len(data)); total > MaxChartSize {
			return nil, &Error{Path: slashDir, Rule: RuleTooLarge, Msg: fmt.Sprintf("the chart is larger than the limit of %d bytes", MaxChartSize)}
		}
		w.files = append(w.files, &loader.BufferedFile{Name: e.name, Data: trimBOM(data)})
	}
	for _, f := range w.files {
		if subchartArchive.MatchString(f.Name) {
			if err := w.checkArchive(slashDir+"/"+f.Name, f.Data, 0); err != nil {
				return nil, err
			}
		}
	}
	return w.files, nil
}

type chartWalk struct {
	root     *os.Root
	dir      string // the chart, relative to the root, OS-separated
	slashDir string
	rules    *ignore.Rules
	found    []found
	files    []*loader.BufferedFile
	entries  int
	budget   int64 // bytes left of MaxChartSize
}

// found is a file to read: its name in the chart and its Lstat.
type found struct {
	name string
	info fs.FileInfo
}

// walk lists the directory sub (slash-separated, relative to the chart) in lexical order,
// as Helm's walk does.
func (w *chartWalk) walk(sub string) error {
	osDir := filepath.Join(w.dir, filepath.FromSlash(sub))
	d, err := w.root.Open(osDir)
	if err != nil {
		return &fs.PathError{Op: "read", Path: path.Join(w.slashDir, sub), Err: underlying(err)}
	}
	var entries []fs.DirEntry
	for {
		batch, err := d.ReadDir(256)
		entries = append(entries, batch...)
		w.entries += len(batch)
		if w.entries > MaxChartFiles {
			d.Close()
			return &Error{Path: w.slashDir, Rule: RuleTooLarge, Msg: fmt.Sprintf("more than %d files and directories in the chart", MaxChartFiles)}
		}
		if errors.Is(err, io.EOF) || err == nil && len(batch) == 0 {
			break
		}
		if err != nil {
			d.Close()
			return &fs.PathError{Op: "read", Path: path.Join(w.slashDir, sub), Err: underlying(err)}
		}
	}
	d.Close()
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		n := path.Join(sub, e.Name())
		rel := w.slashDir + "/" + n
		// The entry's own Lstat, never its target's.
		fi, err := e.Info()
		if err != nil {
			return &fs.PathError{Op: "read", Path: rel, Err: underlying(err)}
		}
		if fi.IsDir() {
			if w.rules.Ignore(n, fi) {
				continue
			}
			if err := w.walk(n); err != nil {
				return err
			}
			continue
		}
		if w.rules.Ignore(n, fi) {
			continue // never read, so never a risk
		}
		if err := regular(rel, fi, MaxFileSize); err != nil {
			return err
		}
		if fi.Size() > w.budget {
			return &Error{Path: w.slashDir, Rule: RuleTooLarge, Msg: fmt.Sprintf("the chart is larger than the limit of %d bytes", MaxChartSize)}
		}
		w.budget -= fi.Size()
		w.found = append(w.found, found{name: n, info: fi})
	}
	return nil
}

var drivePath = regexp.MustCompile(`^[a-zA-Z]:`)

// escapes reports whether a cleaned slash path is absolute or climbs out of its base.
func escapes(clean string) bool {
	return path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || drivePath.MatchString(clean)
}

// CheckArchive checks a packaged chart (.tgz) before Helm's loader reads it, as a packaged
// sub-chart of a chart of the repository is checked: every entry a regular file or a
// directory inside the chart, no link entries, sizes within Helm's own bounds (MaxFileSize,
// MaxChartSize, MaxChartFiles) counted over the chart and the sub-charts packaged inside it.
// file names the archive in errors ("" for none); an error is an *Error whose Path is the
// archive, or the packaged sub-chart inside it ("file!charts/x.tgz"), and whose Msg says what.
func CheckArchive(file string, data []byte) error {
	w := &chartWalk{budget: MaxChartSize}
	return w.checkArchive(file, data, 0)
}

// checkArchive checks a packaged sub-chart before Helm unpacks it (in memory): every entry
// a regular file or a directory inside the chart, no link entries, sizes within the
// chart's budget, and the same for the sub-charts packaged inside it. Helm refuses "../"
// entries itself but loads link entries as empty files and bounds each archive alone.
func (w *chartWalk) checkArchive(file string, data []byte, depth int) error {
	if depth > maxArchiveDepth {
		return &Error{Path: file, Rule: RuleArchive, Msg: fmt.Sprintf("sub-charts packaged more than %d deep", maxArchiveDepth)}
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return &Error{Path: file, Rule: RuleArchive, Msg: "not a gzipped tar archive: " + err.Error()}
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		hd, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &Error{Path: file, Rule: RuleArchive, Msg: "unreadable archive: " + err.Error()}
		}
		if w.entries++; w.entries > MaxChartFiles {
			return &Error{Path: file, Rule: RuleTooLarge, Msg: fmt.Sprintf("more than %d files in the chart and its packaged sub-charts", MaxChartFiles)}
		}
		name := strings.ReplaceAll(hd.Name, `\`, "/")
		entry := func(rule, msg string) error {
			return &Error{Path: file, Rule: rule, Msg: fmt.Sprintf("archive entry %s: %s", shown(hd.Name), msg)}
		}
		// Helm names entries without their first component (the chart's directory).
		_, rest, _ := strings.Cut(name, "/")
		clean, inChart := path.Clean(name), path.Clean(rest)
		if escapes(clean) || escapes(inChart) {
			return entry(RuleOutside, "the path leaves the chart")
		}
		switch hd.Typeflag {
		case tar.TypeDir, tar.TypeXHeader, tar.TypeXGlobalHeader:
			continue
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // TypeRegA is what old tars write
		case tar.TypeSymlink, tar.TypeLink:
			return entry(RuleSymlink, "link entries are never unpacked")
		default:
			return entry(RuleNotRegular, fmt.Sprintf("entry type %q is not a regular file", hd.Typeflag))
		}
		if hd.Size > MaxFileSize {
			return entry(RuleTooLarge, fmt.Sprintf("larger than the limit of %d bytes", MaxFileSize))
		}
		if hd.Size > w.budget {
			return &Error{Path: file, Rule: RuleTooLarge, Msg: fmt.Sprintf("the chart, its packaged sub-charts decompressed, is larger than the limit of %d bytes", MaxChartSize)}
		}
		w.budget -= hd.Size
		if !subchartArchive.MatchString(inChart) {
			continue
		}
		sub, err := io.ReadAll(io.LimitReader(tr, hd.Size))
		if err != nil {
			return &Error{Path: file, Rule: RuleArchive, Msg: "unreadable archive: " + err.Error()}
		}
		inner := shown(clean)
		if file != "" {
			inner = file + "!" + inner
		}
		if err := w.checkArchive(inner, sub, depth+1); err != nil {
			return err
		}
	}
}
