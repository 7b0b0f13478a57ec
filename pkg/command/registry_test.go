package command

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/microservices-manifests/microservices-manifests/pkg/ecrlocal"
)

// syncBuffer is written by the running command while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRegistryServe runs `platform registry serve` until its context ends: stdout carries
// the settings, the registry answers on them, and cancelling stops it.
func TestRegistryServe(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ecrlocal.Build(context.Background(), filepath.Join(root, "bin"), nil); err != nil {
		t.Skipf("cannot build the registry: %v", err)
	}
	dir := t.TempDir()
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		cmd := NewRoot(&stdout, &stderr)
		cmd.SetArgs([]string{"--root", root, "registry", "serve", "--dir", dir, "--access-key-id", "AKIDSERVE", "--secret-access-key", "serve-secret"})
		done <- cmd.ExecuteContext(ctx)
	}()
	settings := map[string]string{}
	deadline := time.Now().Add(time.Minute)
	for len(settings) < 7 {
		if time.Now().After(deadline) {
			t.Fatalf("no settings after a minute; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		for _, line := range strings.Split(stdout.String(), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				settings[k] = v
			}
		}
	}
	if settings["AWS_ACCESS_KEY_ID"] != "AKIDSERVE" || settings["AWS_SECRET_ACCESS_KEY"] != "serve-secret" ||
		settings["SSL_CERT_FILE"] != filepath.Join(dir, "ca.pem") || !strings.HasPrefix(settings["AWS_ENDPOINT_URL_ECR"], "http://127.0.0.1:") ||
		!strings.HasPrefix(settings["REGISTRY"], ecrlocal.DefaultAccount+".dkr.ecr."+ecrlocal.DefaultRegion+".amazonaws.com:") {
		t.Errorf("settings = %v", settings)
	}
	ca, err := os.ReadFile(settings["SSL_CERT_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	// REGISTRY_ADDR is where the registry name resolves to; the certificate also names 127.0.0.1.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := client.Get("https://" + settings["REGISTRY_ADDR"] + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous /v2/: %s", resp.Status)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after cancel: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20 s of its context's end")
	}
}
