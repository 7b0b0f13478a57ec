// Package ecrlocal is the offline stand-in for Amazon ECR: a real OCI registry (CNCF
// Distribution, built from the module proxy) on 127.0.0.1 that accepts only what ECR
// accepts, user AWS and a password that ECR's GetAuthorizationToken issued. The token
// comes from a local endpoint that speaks that operation over the AWS JSON 1.1 protocol and
// checks the caller's SigV4 signature against one static key, so `platform publish` runs
// its production code path (aws-sdk-go-v2, then oras-go over HTTPS) unchanged.
//
// Why a proxy and not Distribution's htpasswd auth: an htpasswd file holds one password per
// user and no expiry, while ECR keeps every issued token valid for 12 hours. Distribution
// does re-read the file when its modification time changes, but rewriting it per token
// would still invalidate the previous token and need a timer to expire the last one. So
// Distribution stays the registry (it stores and serves every blob and manifest) behind a
// unix socket in a private directory, and the only way in is a small TLS reverse proxy that
// admits Basic AWS:<unexpired issued token> and answers everything else 401.
package ecrlocal

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// User is the registry user name ECR tokens carry.
const User = "AWS"

// TokenTTL is how long an ECR authorization token is valid.
const TokenTTL = 12 * time.Hour

// Defaults of the registry's ECR-shaped host name.
const (
	DefaultAccount = "123456789012"
	DefaultRegion  = "us-east-1"
)

// Server configures one stand-in.
type Server struct {
	// Dir holds the registry's storage (Dir/storage), its configuration, its log
	// (Dir/registry.log) and the CA certificate clients trust (Dir/ca.pem).
	Dir string
	// Binary is Distribution's registry binary (see Build).
	Binary string
	// Addr is the registry's TLS address; "127.0.0.1:0" when empty.
	Addr string
	// APIAddr is the ECR API's (plain HTTP) address; "127.0.0.1:0" when empty.
	APIAddr string
	// Account and Region shape the registry's host name,
	// <account>.dkr.ecr.<region>.amazonaws.com; the API accepts signatures for Region only.
	Account, Region string
	// AccessKeyID and SecretAccessKey are the one AWS key the API accepts (required).
	AccessKeyID, SecretAccessKey string
	// TTL of the tokens; TokenTTL when zero.
	TTL time.Duration
	// Now is the clock of token expiry and signature skew; time.Now when nil.
	Now func() time.Time
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Instance is a running stand-in.
type Instance struct {
	// Host is the registry as clients name it, <account>.dkr.ecr.<region>.amazonaws.com:PORT;
	// the name must resolve to 127.0.0.1 for them (a dialer, not /etc/hosts).
	Host string
	// Addr is the registry's listening address, 127.0.0.1:PORT.
	Addr string
	// APIEndpoint is the ECR API's URL, for AWS_ENDPOINT_URL_ECR.
	APIEndpoint string
	// CAFile is the PEM file of the CA that signed the registry's certificate.
	CAFile string
	// Region is the region the API accepts.
	Region string

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	servers []*http.Server
	sockDir string
}

func (s *Server) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, format+"\n", args...)
	}
}

// Start runs Distribution, waits until it answers, and opens the ECR API and the
// authenticating proxy. Close stops all of it.
func (s *Server) Start(ctx context.Context) (inst *Instance, err error) {
	if s.AccessKeyID == "" || s.SecretAccessKey == "" {
		return nil, errors.New("ecrlocal: an access key ID and secret are required")
	}
	if s.Dir == "" || s.Binary == "" {
		return nil, errors.New("ecrlocal: a directory and the registry binary are required")
	}
	account, region := or(s.Account, DefaultAccount), or(s.Region, DefaultRegion)
	now := s.Now
	if now == nil {
		now = time.Now
	}
	ttl := s.TTL
	if ttl == 0 {
		ttl = TokenTTL
	}
	dir, err := filepath.Abs(s.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o700); err != nil {
		return nil, err
	}
	inst = &Instance{Region: region, exited: make(chan struct{})}
	defer func() {
		if err != nil {
			_ = inst.Close()
		}
	}()

	// The socket lives in a private directory of its own: short enough for a unix socket
	// path wherever Dir is, and reachable by this user only.
	if inst.sockDir, err = os.MkdirTemp("", "ecrlocal-"); err != nil {
		return nil, err
	}
	sock := filepath.Join(inst.sockDir, "registry.sock")
	if err := s.startRegistry(inst, dir, sock); err != nil {
		return nil, err
	}
	upstream := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	if err := waitReady(ctx, inst, upstream); err != nil {
		return nil, fmt.Errorf("%w (log: %s)", err, filepath.Join(dir, "registry.log"))
	}

	regLn, err := net.Listen("tcp", or(s.Addr, "127.0.0.1:0"))
	if err != nil {
		return nil, err
	}
	apiLn, err := net.Listen("tcp", or(s.APIAddr, "127.0.0.1:0"))
	if err != nil {
		regLn.Close()
		return nil, err
	}
	inst.Addr = regLn.Addr().String()
	_, port, _ := net.SplitHostPort(inst.Addr)
	name := account + ".dkr.ecr." + region + ".amazonaws.com"
	inst.Host = net.JoinHostPort(name, port)
	inst.APIEndpoint = "http://" + apiLn.Addr().String()

	caPEM, cert, err := selfSigned([]string{name, "localhost", "127.0.0.1"}, now())
	if err != nil {
		regLn.Close()
		apiLn.Close()
		return nil, err
	}
	inst.CAFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(inst.CAFile, caPEM, 0o644); err != nil {
		regLn.Close()
		apiLn.Close()
		return nil, err
	}

	toks := newTokens(ttl, now)
	a := newAPI(aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey}, region, "https://"+inst.Host, toks, now)
	target := &url.URL{Scheme: "http", Host: "registry"}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.SetXForwarded()
			r.Out.Host = r.In.Host
			r.Out.Header.Del("Authorization")
		},
		Transport: upstream,
	}
	reg := &http.Server{
		Handler:           authenticate(toks, name, proxy),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 30 * time.Second,
	}
	apiSrv := &http.Server{Handler: a, ReadHeaderTimeout: 30 * time.Second}
	inst.servers = []*http.Server{reg, apiSrv}
	// Serve returns ErrServerClosed on Close; there is no other way for it to end.
	go func() { _ = reg.ServeTLS(regLn, "", "") }()
	go func() { _ = apiSrv.Serve(apiLn) }()
	s.logf("ecrlocal: registry https://%s (listening on %s), ECR API %s, storage %s", inst.Host, inst.Addr, inst.APIEndpoint, filepath.Join(dir, "storage"))
	return inst, nil
}

// startRegistry writes Distribution's configuration and starts it on the unix socket.
func (s *Server) startRegistry(inst *Instance, dir, sock string) error {
	// No auth section: Distribution is reachable only through the socket, and the proxy
	// authenticates. relativeurls keeps upload Locations valid behind the proxy.
	config := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: false
http:
  net: unix
  addr: %q
  relativeurls: true
`, filepath.Join(dir, "storage"), sock)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "registry.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(s.Binary, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// REGISTRY_* would override the configuration and LISTEN_FDS would hand Distribution a
	// systemd socket instead of ours; tracing has no collector here.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") && !strings.HasPrefix(kv, "LISTEN_") && !strings.HasPrefix(kv, "OTEL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "OTEL_TRACES_EXPORTER=none")
	// The registry dies with its parent, also when the parent is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.Binary, err)
	}
	inst.cmd = cmd
	go func() {
		inst.waitErr = cmd.Wait()
		close(inst.exited)
	}()
	return nil
}

// waitReady polls Distribution's /v2/ through the socket: at most 30 s, every 50 ms.
func waitReady(ctx context.Context, inst *Instance, upstream http.RoundTripper) error {
	client := &http.Client{Transport: upstream, Timeout: 2 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://registry/v2/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-inst.exited:
			return fmt.Errorf("registry exited before it was ready: %v", inst.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("registry not ready: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// authenticate admits requests with Basic User:<an issued, unexpired token>, as ECR does,
// and challenges every other request (anonymous ones included) with 401.
func authenticate(toks *tokens, realm string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != User || !toks.valid(pass) {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", realm))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`+"\n")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Exited is closed when the registry process has ended.
func (i *Instance) Exited() <-chan struct{} { return i.exited }

// Close stops the servers and the registry (SIGTERM, then SIGKILL after 10 s).
func (i *Instance) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range i.servers {
		_ = srv.Shutdown(ctx)
	}
	var err error
	if i.cmd != nil && i.cmd.Process != nil {
		select {
		case <-i.exited:
		default:
			_ = i.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-i.exited:
			case <-time.After(10 * time.Second):
				_ = i.cmd.Process.Kill()
				<-i.exited
				err = errors.New("registry did not stop on SIGTERM; killed")
			}
		}
	}
	if i.sockDir != "" {
		_ = os.RemoveAll(i.sockDir)
	}
	return err
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
