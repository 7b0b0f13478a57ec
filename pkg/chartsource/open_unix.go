//go:build unix

package chartsource

import "syscall"

// openFlags never follow a last-component symlink and never block on a FIFO.
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK
