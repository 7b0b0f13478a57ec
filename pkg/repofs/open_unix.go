//go:build unix

package repofs

import "syscall"

// openFlags never follow a last-component symlink and never block on a FIFO.
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK
