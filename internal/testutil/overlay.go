// Package testutil builds fixture repositories for tests: a base tree copied to a temporary
// directory, with an overlay of files on top (and a .delete list of files to remove).
package testutil

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Repo copies base into a new temporary directory, then each overlay in order, and returns
// the directory. An overlay's ".delete" file lists paths (one per line) to remove.
func Repo(t testing.TB, base string, overlays ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, src := range append([]string{base}, overlays...) {
		if err := copyTree(src, dir); err != nil {
			t.Fatalf("copy %s: %v", src, err)
		}
		del, err := os.Open(filepath.Join(src, ".delete"))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(del)
		for sc.Scan() {
			if p := strings.TrimSpace(sc.Text()); p != "" {
				if err := os.Remove(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
					t.Fatalf("overlay %s: %v", src, err)
				}
			}
		}
		del.Close()
		os.Remove(filepath.Join(dir, ".delete"))
	}
	return dir
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if d.Name() == ".delete" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
