// Command build builds Helmfile into the repository's bin/ through internal/helmfilebin, once
// per version, for a make target that runs before `go test` (a cold build takes longer than
// a test package should wait):
//
//	go run ./internal/helmfilebin/build -bin bin
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/microservices-manifests/microservices-manifests/internal/helmfilebin"
)

func main() {
	binDir := flag.String("bin", "bin", "directory that receives the helmfile binary")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *binDir); err != nil {
		fmt.Fprintln(os.Stderr, "helmfile build:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, binDir string) error {
	abs, err := filepath.Abs(binDir)
	if err != nil {
		return err
	}
	bin, built, err := helmfilebin.Build(ctx, helmfilebin.Options{BinDir: abs, Log: os.Stderr})
	if err != nil {
		return err
	}
	if !built {
		fmt.Fprintf(os.Stderr, "%s %s already in %s\n", helmfilebin.BinaryName, helmfilebin.Version, bin)
	}
	return nil
}
