//go:build !unix

package chartsource

// openFlags: the Lstat and Fstat checks (and os.Root) still apply where the open flags
// do not exist.
const openFlags = 0
