package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeProcessEnv makes the test binary, started under a component's name (a symlink, as
// argocd's multi-call links), play that component instead of running the tests.
const fakeProcessEnv = "PLATFORM_TEST_FAKE_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(fakeProcessEnv) == "1" {
		os.Exit(fakeProcess(filepath.Base(os.Args[0]), os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeProcess is a component as the stop path sees it: it listens on its loopback port
// when it has one, and runs for at most 10 minutes.
//   - redis-server ignores SIGTERM (Stop must escalate to SIGKILL);
//   - argocd-repo-server starts a child in its process group, as it runs git and helm,
//     and writes the child's PID to child.pid in its working directory;
//   - argocd-application-controller fails at start, as a component with a port in use.
func fakeProcess(name string, args []string) int {
	flag := func(names ...string) string {
		for i, a := range args {
			if slices.Contains(names, a) && i+1 < len(args) {
				return args[i+1]
			}
		}
		return ""
	}
	var addr string
	switch name {
	case "argocd-application-controller":
		fmt.Fprintln(os.Stderr, "fake: failing at start on purpose")
		return 3
	case "redis-server":
		signal.Ignore(syscall.SIGTERM)
		addr = "127.0.0.1:" + flag("--port")
	case "argocd-git-server":
		addr = flag("-listen")
	case "argocd-repo-server":
		addr = "127.0.0.1:" + flag("--port")
		child := exec.Command("sleep", "600")
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := os.WriteFile("child.pid", []byte(strconv.Itoa(child.Process.Pid)), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer l.Close()
	}
	time.Sleep(10 * time.Minute)
	return 0
}

// fakeComponents links each name in dir to the test binary (a hard link where it can, so
// that /proc/<pid>/exe names the component, as a built one) and turns fake mode on for the
// processes the test starts.
func fakeComponents(t *testing.T, dir string, names ...string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.Link(self, filepath.Join(dir, n)); err != nil {
			if err := os.Symlink(self, filepath.Join(dir, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Setenv(fakeProcessEnv, "1")
}

// rebuild replaces each component in dir with a new file, as `make cluster-build` does
// when its stamp changed: a running one's /proc/<pid>/exe then reads "<path> (deleted)".
func rebuild(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		tmp := filepath.Join(dir, n+".new")
		if err := os.WriteFile(tmp, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
}

// killLeftovers ends, whatever the test's outcome, what the code under test started.
func killLeftovers(t *testing.T, g *processGroup) {
	t.Helper()
	t.Cleanup(func() {
		for _, p := range g.Processes {
			if p.Running() {
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
			}
		}
		if len(g.Processes) > 0 && g.PGID == g.Processes[0].PID && groupAlive(g.PGID) {
			_ = syscall.Kill(-g.PGID, syscall.SIGKILL)
		}
	})
}

// bystander is a process the code under test did not start; the test ends it.
func bystander(t *testing.T) Process {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	s := startForTest(t, cmd)
	return Process{Name: "bystander", PID: cmd.Process.Pid, StartTime: s.startTime}
}

// startForTest starts cmd, ends it when the test ends, and returns its /proc stat.
func startForTest(t *testing.T, cmd *exec.Cmd) procStat {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s, err := readProcStat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testCluster is a Cluster in a temporary directory whose components are fakes.
func testCluster(t *testing.T, fakes ...string) *Cluster {
	t.Helper()
	root := t.TempDir()
	c := New(root, testLog{t})
	fakeComponents(t, c.Components.BinDir, fakes...)
	if err := os.MkdirAll(c.logDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	return c
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// assertGone fails for every process that still runs.
func assertGone(t *testing.T, procs ...Process) {
	t.Helper()
	for _, p := range procs {
		if p.Running() {
			t.Errorf("%s (pid %d) still running after Stop", p.Name, p.PID)
		}
	}
}

// TestArgoCDStopAfterFailedStart is `make argocd` failing part-way on a fresh machine, then
// `make down` in a new process: the application-controller exits at start after redis, the
// git server and the repo-server (with a child, as its git) started. The state file on
// disk must list every started process, and a Stop that knows nothing but that file must
// end them all (redis ignores SIGTERM), the repo-server's child too, and nothing else,
// even though the binaries were rebuilt in between (no executable path matches any more).
func TestArgoCDStopAfterFailedStart(t *testing.T) {
	components := []string{"redis-server", argocdGitServer, "argocd-repo-server", "argocd-application-controller"}
	c := testCluster(t, components...)
	other := bystander(t)
	a := &ArgoCD{Cluster: c, Root: c.Components.Root, Log: testLog{t}}
	st := &ArgoCDState{}
	var err error
	if st.Ports, err = freePorts("redis", "repo-server", "repo-server-metrics", "controller-metrics", "git"); err != nil {
		t.Fatal(err)
	}
	killLeftovers(t, &st.processGroup)
	err = a.startAll(context.Background(), st, c.Components.Path("redis-server"))
	if err == nil || !strings.Contains(err.Error(), "application-controller exited at start") {
		t.Fatalf("startAll: got %v, want the application-controller's failure", err)
	}

	// The record on disk, as `make down` reads it.
	onDisk, err := (&ArgoCD{Cluster: &Cluster{Dir: c.Dir}}).ReadState()
	if err != nil {
		t.Fatalf("no state file after the failed start: %v", err)
	}
	var names []string
	for _, p := range onDisk.Processes {
		names = append(names, p.Name)
		if p.StartTime == 0 {
			t.Errorf("%s recorded without its start time", p.Name)
		}
	}
	if want := []string{"redis", "git-server", "repo-server", "application-controller"}; !slices.Equal(names, want) {
		t.Fatalf("state records %v, want %v in start order", names, want)
	}
	for _, p := range onDisk.Processes[:3] {
		if !p.Running() {
			t.Fatalf("%s (pid %d) is not running before Stop: the test proves nothing", p.Name, p.PID)
		}
	}
	b, err := os.ReadFile(filepath.Join(a.Dir(), "child.pid"))
	if err != nil {
		t.Fatal(err)
	}
	childPID, _ := strconv.Atoi(string(b))
	cs, err := readProcStat(childPID)
	if err != nil || cs.pgrp != onDisk.PGID {
		t.Fatalf("the repo-server's child %d: %v, group %d, want group %d", childPID, err, cs.pgrp, onDisk.PGID)
	}
	child := Process{Name: "repo-server's child", PID: childPID, StartTime: cs.startTime}
	t.Cleanup(func() {
		if child.Running() {
			_ = syscall.Kill(child.PID, syscall.SIGKILL)
		}
	})
	rebuild(t, c.Components.BinDir, components...)

	start := time.Now()
	down := &ArgoCD{Cluster: New(c.Components.Root, testLog{t}), Log: testLog{t}}
	if err := down.Stop(context.Background()); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("stopped in %s", time.Since(start).Round(10*time.Millisecond))
	assertGone(t, append(slices.Clone(onDisk.Processes), child)...)
	if !other.Running() {
		t.Error("an unrelated process was stopped")
	}
	if _, err := os.Stat(a.statePath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left after Stop: %v", err)
	}
}

// TestClusterStopAfterFailedStart is `make up` dying after etcd and the apiserver started
// (the process is killed: no deferred cleanup ran): the state file written as each one
// started is all `make down` needs, run from the repository reached through a symlink
// (its paths are not the processes' executables').
func TestClusterStopAfterFailedStart(t *testing.T) {
	c := testCluster(t, "etcd", "kube-apiserver")
	other := bystander(t)
	st := &state{Ports: map[string]int{}}
	killLeftovers(t, &st.processGroup)
	for i, name := range []string{"etcd", "kube-apiserver"} {
		if err := c.startComponent(st, name, nil); err != nil {
			t.Fatal(err)
		}
		onDisk, err := c.readState()
		if err != nil {
			t.Fatalf("after starting %s: %v", name, err)
		}
		if len(onDisk.Processes) != i+1 || onDisk.Processes[i].Name != name || !onDisk.Processes[i].Running() {
			t.Fatalf("after starting %s the state records %+v", name, onDisk.Processes)
		}
	}
	link := filepath.Join(t.TempDir(), "repo")
	if err := os.Symlink(c.Components.Root, link); err != nil {
		t.Fatal(err)
	}
	if err := New(link, testLog{t}).Stop(context.Background()); err != nil {
		t.Fatalf("stop: %v", err)
	}
	assertGone(t, st.Processes...)
	if !other.Running() {
		t.Error("an unrelated process was stopped")
	}
	if _, err := os.Stat(c.statePath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left after Stop: %v", err)
	}
}

// TestStopMatchesStartTime: a recorded PID that now names another process (the same PID,
// another start time) is never signalled, by ArgoCD's Stop nor the cluster's; the same PID
// with its own start time is stopped.
func TestStopMatchesStartTime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		reused   bool
		stop     func(c *Cluster) error
		write    func(c *Cluster, g processGroup) error
		wantDead bool
	}{
		{name: "argocd, PID reused by another process", reused: true, stop: stopArgoCD, write: writeArgoCDState},
		{name: "argocd, the recorded process", stop: stopArgoCD, write: writeArgoCDState, wantDead: true},
		{name: "cluster, PID reused by another process", reused: true, stop: stopCluster, write: writeClusterState},
		{name: "cluster, the recorded process", stop: stopCluster, write: writeClusterState, wantDead: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(t.TempDir(), testLog{t})
			p := bystander(t)
			p.Name = "redis"
			if tc.reused {
				p.StartTime-- // recorded from the process that had this PID before
			}
			if err := tc.write(c, processGroup{PGID: p.PID, Processes: []Process{p}}); err != nil {
				t.Fatal(err)
			}
			if err := tc.stop(c); err != nil {
				t.Fatalf("stop: %v", err)
			}
			s, err := readProcStat(p.PID)
			dead := err != nil || s.state == 'Z'
			if dead != tc.wantDead {
				t.Errorf("pid %d dead %t after Stop, want %t", p.PID, dead, tc.wantDead)
			}
		})
	}
}

func stopArgoCD(c *Cluster) error  { return (&ArgoCD{Cluster: c}).Stop(context.Background()) }
func stopCluster(c *Cluster) error { return c.Stop(context.Background()) }

func writeArgoCDState(c *Cluster, g processGroup) error {
	return (&ArgoCD{Cluster: c}).writeState(&ArgoCDState{processGroup: g})
}

func writeClusterState(c *Cluster, g processGroup) error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	return c.writeState(&state{processGroup: g})
}

// TestStopLegacyState: a state file of an older platform (PIDs only) is not trusted: its
// processes are named in the log, not signalled, and the file is dropped.
func TestStopLegacyState(t *testing.T) {
	c := New(t.TempDir(), testLog{t})
	p := bystander(t)
	a := &ArgoCD{Cluster: c, Log: testLog{t}}
	b, err := json.Marshal(map[string]any{"pgid": p.PID, "pids": map[string]int{"redis": p.PID}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(a.Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.statePath(), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !p.Running() {
		t.Error("a PID from a legacy state file was signalled")
	}
	if _, err := os.Stat(a.statePath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("legacy state file left: %v", err)
	}
}

// TestReadProcStat counts the fields from the last ')': a command name with spaces and
// parentheses must not shift the process group or the start time.
func TestReadProcStat(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "a) b (c")
	if err := os.Symlink("/bin/sleep", exe); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s := startForTest(t, cmd)
	if s.pgrp != cmd.Process.Pid {
		t.Errorf("pgrp %d, want %d (its own group)", s.pgrp, cmd.Process.Pid)
	}
	self, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.startTime < self.startTime || s.state == 'Z' {
		t.Errorf("start time %d before this test's %d, state %c", s.startTime, self.startTime, s.state)
	}
	if _, err := readProcStat(0); err == nil {
		t.Error("pid 0 read")
	}
}

// TestEnsureProgram: a missing redis-server is installed with apt-get update first (a
// fresh machine has no package lists), through sudo -n when not root, and every failure
// says what to run by hand.
func TestEnsureProgram(t *testing.T) {
	for _, tc := range []struct {
		name      string
		euid      int
		have      []string // programs in PATH
		failOn    string   // a command that fails
		wantCmds  []string
		wantPath  string
		wantError string
	}{
		{name: "present", have: []string{"redis-server"}, wantPath: "/usr/bin/redis-server"},
		{name: "root installs", have: []string{"apt-get"},
			wantCmds: []string{"apt-get update -qq", "apt-get install -y -qq --no-install-recommends redis-server"}, wantPath: "/usr/bin/redis-server"},
		{name: "user installs with sudo", euid: 1000, have: []string{"apt-get", "sudo"},
			wantCmds: []string{"sudo -n apt-get update -qq", "sudo -n apt-get install -y -qq --no-install-recommends redis-server"}, wantPath: "/usr/bin/redis-server"},
		{name: "user without sudo", euid: 1000, have: []string{"apt-get"}, wantError: "run `apt-get update && apt-get install -y redis-server` as root"},
		{name: "no apt-get", wantError: "Debian/Ubuntu: apt-get install redis-server"},
		{name: "update fails", euid: 1000, have: []string{"apt-get", "sudo"}, failOn: "update",
			wantCmds: []string{"sudo -n apt-get update -qq"}, wantError: "`sudo -n apt-get update -qq` failed: exit status 1 (install it by hand: sudo apt-get install redis-server)\nE: a password is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			have := slices.Clone(tc.have)
			var cmds []string
			lookPath := func(p string) (string, error) {
				if slices.Contains(have, p) {
					return "/usr/bin/" + p, nil
				}
				return "", exec.ErrNotFound
			}
			run := func(_ context.Context, name string, args ...string) ([]byte, error) {
				cmd := strings.Join(append([]string{name}, args...), " ")
				cmds = append(cmds, cmd)
				if tc.failOn != "" && strings.Contains(cmd, tc.failOn) {
					return []byte("E: a password is required"), errors.New("exit status 1")
				}
				if strings.Contains(cmd, " install ") {
					have = append(have, "redis-server")
				}
				return nil, nil
			}
			got, err := ensureProgram(context.Background(), "redis-server", "redis-server", tc.euid, lookPath, run, t.Logf)
			if !slices.Equal(cmds, tc.wantCmds) {
				t.Errorf("ran %q, want %q", cmds, tc.wantCmds)
			}
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Errorf("error %v, want it to contain %q", err, tc.wantError)
				}
				return
			}
			if err != nil || got != tc.wantPath {
				t.Errorf("got %q, %v; want %q", got, err, tc.wantPath)
			}
		})
	}
}
