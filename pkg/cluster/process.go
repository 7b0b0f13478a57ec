package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is one process a start recorded. Its PID and its start time together name it:
// a PID alone is handed to another process once this one ends, and the executable's path
// names nothing reliably (argocd is one binary behind several links, a rebuilt or upgraded
// binary reads "<path> (deleted)" in /proc/<pid>/exe, a repository reached through a
// symlink has two paths).
type Process struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// StartTime is field 22 of /proc/<pid>/stat: clock ticks from boot to the process's start.
	StartTime uint64 `json:"startTime"`
}

// Running reports whether the process is still the one that was started: it exists, is
// not a zombie, and started at the recorded time.
func (p Process) Running() bool {
	s, err := readProcStat(p.PID)
	return err == nil && s.startTime == p.StartTime && s.state != 'Z' && s.state != 'X'
}

// procStat is what Stop needs from /proc/<pid>/stat.
type procStat struct {
	state     byte
	pgrp      int
	startTime uint64
}

// readProcStat parses /proc/<pid>/stat (proc(5)): "pid (comm) state ppid pgrp ...", comm
// may hold spaces and parentheses, so the fields are counted from the last ')'.
func readProcStat(pid int) (procStat, error) {
	if pid <= 0 {
		return procStat{}, fmt.Errorf("pid %d: %w", pid, os.ErrNotExist)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	// fields[0] is field 3 (state), so field n is fields[n-3].
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 22-2 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	pgrp, err := strconv.Atoi(fields[5-3])
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: pgrp: %w", pid, err)
	}
	start, err := strconv.ParseUint(fields[22-3], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: starttime: %w", pid, err)
	}
	return procStat{state: fields[0][0], pgrp: pgrp, startTime: start}, nil
}

// processSpec is one process to start.
type processSpec struct {
	Name string
	Exe  string
	Args []string
	Dir  string
	Env  []string
	// Log receives stdout and stderr (created, truncated).
	Log string
}

// processGroup is the processes one start founded, in start order, all in process group
// PGID (the first one's PID). Cluster and ArgoCD each keep one in their state file.
type processGroup struct {
	PGID      int       `json:"pgid"`
	Processes []Process `json:"processes"`
}

// Lookup is the recorded process of that name.
func (g *processGroup) Lookup(name string) (Process, bool) {
	for _, p := range g.Processes {
		if p.Name == name {
			return p, true
		}
	}
	return Process{}, false
}

// running reports whether the process of that name is still the one started.
func (g *processGroup) running(name string) bool {
	p, ok := g.Lookup(name)
	return ok && p.Running()
}

// start starts spec in the group (founding it when it is empty), stdin from /dev/null,
// and records it, with its start time, before returning: save writes the state file, so
// that Stop finds every process that was started even if this start fails later or this
// program is killed. A process whose record cannot be saved is killed at once.
func (g *processGroup) start(spec processSpec, save func() error) (Process, error) {
	logFile, err := os.Create(spec.Log)
	if err != nil {
		return Process{}, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	defer logFile.Close()
	cmd := exec.Command(spec.Exe, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = spec.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: g.PGID}
	if err := cmd.Start(); err != nil {
		if g.PGID != 0 && !groupAlive(g.PGID) {
			// setpgid into a group whose every member exited fails with EPERM.
			return Process{}, fmt.Errorf("start %s: process group %d has ended (%s exited): %w", spec.Name, g.PGID, g.Processes[0].Name, err)
		}
		return Process{}, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	pid := cmd.Process.Pid
	// The child is not reaped before cmd.Wait, so its stat is there even if it exited.
	s, statErr := readProcStat(pid)
	// Reaped as soon as it exits: a killed child is not left a zombie of this program.
	go func() { _ = cmd.Wait() }()
	if statErr != nil {
		_ = cmd.Process.Kill()
		return Process{}, fmt.Errorf("start %s: %w", spec.Name, statErr)
	}
	p := Process{Name: spec.Name, PID: pid, StartTime: s.startTime}
	if g.PGID == 0 {
		g.PGID = pid
	}
	g.Processes = append(g.Processes, p)
	if err := save(); err != nil {
		_ = cmd.Process.Kill()
		return p, fmt.Errorf("start %s: record it: %w", spec.Name, err)
	}
	return p, nil
}

// stop ends the recorded processes that are still the ones started, newest first (clients
// before the servers they use: ArgoCD's controller before redis, the apiserver before
// etcd): SIGTERM, up to grace(name) for it to exit, then SIGKILL. Then whatever is left in
// their process group (children such as the repo-server's git and helm) is killed, when a
// recorded process proved the group ours. A process that is not the one recorded (its PID
// now names another process, with another start time) is never signalled.
func (g *processGroup) stop(ctx context.Context, grace func(name string) time.Duration, logf func(string, ...any)) (int, error) {
	ours := false
	stopped := 0
	for i := len(g.Processes) - 1; i >= 0; i-- {
		p := g.Processes[i]
		s, err := readProcStat(p.PID)
		if err != nil || s.startTime != p.StartTime || s.state == 'Z' || s.state == 'X' {
			continue // ended, or its PID is another process's now
		}
		// The group is ours when it was founded by the first recorded process (its PID is the
		// group's number) and a process proved to be ours is still in it.
		if s.pgrp == g.PGID && g.PGID == g.Processes[0].PID {
			ours = true
		}
		stopped++
		_ = syscall.Kill(p.PID, syscall.SIGTERM)
		d := grace(p.Name)
		if waitUntil(ctx, d, func() bool { return !p.Running() }) {
			continue
		}
		logf("%s (pid %d) still running %s after SIGTERM: SIGKILL", p.Name, p.PID, d)
		if p.Running() {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
		if !waitUntil(context.WithoutCancel(ctx), 5*time.Second, func() bool { return !p.Running() }) {
			return stopped, fmt.Errorf("%s (pid %d) did not end after SIGKILL", p.Name, p.PID)
		}
	}
	if ours && groupAlive(g.PGID) {
		_ = syscall.Kill(-g.PGID, syscall.SIGKILL)
		if !waitUntil(context.WithoutCancel(ctx), 10*time.Second, func() bool { return !groupAlive(g.PGID) }) {
			return stopped, fmt.Errorf("process group %d did not end", g.PGID)
		}
	}
	return stopped, nil
}

// waitUntil polls done every 50 ms for at most d; it reports whether done became true.
func waitUntil(ctx context.Context, d time.Duration, done func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if done() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return done()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// groupAlive reports whether any non-zombie process is still in the group.
func groupAlive(pgid int) bool {
	if pgid <= 0 {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		s, err := readProcStat(pid)
		if err == nil && s.pgrp == pgid && s.state != 'Z' && s.state != 'X' {
			return true
		}
	}
	return false
}

// errLegacyState marks a state file written before processes were recorded with their
// start time: its PIDs cannot be told from reused ones, so nothing is signalled.
var errLegacyState = errors.New("state written by an older platform (PIDs without start times)")

// legacyWarning tells which processes of an old state file were left alone.
func legacyWarning(path string, pids map[string]int) string {
	var b strings.Builder
	for name, pid := range pids {
		fmt.Fprintf(&b, " %s=%d", name, pid)
	}
	return fmt.Sprintf("%s: %v; not signalled (stop them by hand if they still run):%s", path, errLegacyState, b.String())
}

// writeStateFile writes a state record (0600) whole or not at all, through a temporary
// file and a rename: a Stop must never read half a record.
func writeStateFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
