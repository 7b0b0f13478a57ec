package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// SharedCharts is ../shared/charts beside the repository, as an absolute path: the official
// charts packaged for offline tests. In a clone without ../shared the test is skipped,
// saying why.
func SharedCharts(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("testutil: no caller information to find the repository")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "charts")
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		tb.Skipf("no packaged official charts in %s beside the repository (a clone without ../shared): %v", dir, err)
	}
	return filepath.Clean(dir)
}
