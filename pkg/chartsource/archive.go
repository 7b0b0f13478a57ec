package chartsource

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
)

// maxArchiveDepth bounds sub-charts packaged inside packaged sub-charts.
const maxArchiveDepth = 8

// subchartArchive matches the entries loader.LoadFiles unpacks as packaged sub-charts
// (names relative to the chart: charts/x.tgz, charts/a/charts/x.tgz).
var subchartArchive = regexp.MustCompile(`^(charts/[^/]+/)*charts/[^/]+\.tgz$`)

var drivePath = regexp.MustCompile(`^[a-zA-Z]:`)

// loadChecked loads a chart archive from someone else's server after checking every
// entry, its packaged sub-charts' too: Helm's loader refuses "../" entries and bounds
// each archive alone, but loads link entries as empty files and does not bound the
// sub-charts packaged inside. The limits are pkg/repofs's, Helm's own defaults, so that
// a chart passing here is never refused later for its size. (The same checks as repofs'
// packaged sub-charts; repofs has no exported archive loader.)
func loadChecked(data []byte) (*chart.Chart, error) {
	c := &archiveCheck{budget: repofs.MaxChartSize}
	if err := c.check("", data, 0); err != nil {
		return nil, err
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return ch, nil
}

type archiveCheck struct {
	entries int
	budget  int64 // decompressed bytes left
}

func (c *archiveCheck) check(file string, data []byte, depth int) error {
	where := func(msg string) error {
		if file == "" {
			return errors.New(msg)
		}
		return fmt.Errorf("%s: %s", file, msg)
	}
	if depth > maxArchiveDepth {
		return where(fmt.Sprintf("sub-charts packaged more than %d deep", maxArchiveDepth))
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return where("not a gzipped tar archive: " + err.Error())
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		hd, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return where("unreadable archive: " + err.Error())
		}
		if c.entries++; c.entries > repofs.MaxChartFiles {
			return where(fmt.Sprintf("more than %d entries in the chart and its packaged sub-charts", repofs.MaxChartFiles))
		}
		entry := func(msg string) error {
			return where(fmt.Sprintf("archive entry %s: %s", show(hd.Name), msg))
		}
		name := strings.ReplaceAll(hd.Name, `\`, "/")
		// Helm names entries without their first component (the chart's directory).
		_, rest, _ := strings.Cut(name, "/")
		clean, inChart := path.Clean(name), path.Clean(rest)
		if escapes(clean) || escapes(inChart) {
			return entry("the path leaves the chart")
		}
		switch hd.Typeflag {
		case tar.TypeDir, tar.TypeXHeader, tar.TypeXGlobalHeader:
			continue
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // TypeRegA is what old tars write
		case tar.TypeSymlink, tar.TypeLink:
			return entry("link entries are never unpacked")
		default:
			return entry(fmt.Sprintf("entry type %q is not a regular file", hd.Typeflag))
		}
		if hd.Size > repofs.MaxFileSize {
			return entry(fmt.Sprintf("larger than the limit of %d bytes", repofs.MaxFileSize))
		}
		if hd.Size > c.budget {
			return where(fmt.Sprintf("the chart, its packaged sub-charts decompressed, is larger than the limit of %d bytes", repofs.MaxChartSize))
		}
		c.budget -= hd.Size
		if !subchartArchive.MatchString(inChart) {
			continue
		}
		sub, err := io.ReadAll(io.LimitReader(tr, hd.Size))
		if err != nil {
			return where("unreadable archive: " + err.Error())
		}
		name = clean
		if file != "" {
			name = file + "!" + clean
		}
		if err := c.check(show(name), sub, depth+1); err != nil {
			return err
		}
	}
}

// escapes reports whether a cleaned slash path is absolute or climbs out of its base.
func escapes(clean string) bool {
	return path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || drivePath.MatchString(clean)
}
