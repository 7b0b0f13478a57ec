// Package buildonce runs a build at most once across processes. Tools the platform builds
// from the module proxy (the embedded cluster's components, ArgoCD, the registry) may be
// asked for by a test and by `platform cluster up` at the same time: a cheap freshness
// check, then an exclusive flock and the check again, so the second caller waits and then
// finds the first one's result instead of building it again.
package buildonce

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Do runs build unless fresh reports the result is there, holding an exclusive lock on
// lockPath (created, with its directory) while it checks again and builds. It reports
// whether it built.
func Do(lockPath string, fresh func() bool, build func() error) (bool, error) {
	if fresh() {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o755); err != nil {
		return false, err
	}
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return false, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // released by Close anyway
	if fresh() {
		return false, nil
	}
	if err := build(); err != nil {
		return false, err
	}
	return true, nil
}
