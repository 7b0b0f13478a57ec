// Command schemagen regenerates pkg/schema/data from the pinned upstream sources
// (see pkg/schema.Generate).
//
//	go run ./cmd/schemagen -out pkg/schema/data -shared-crds pkg/schema/crds [-kubeconform DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
}

func run() error {
	var opts schema.GenerateOptions
	flag.StringVar(&opts.Out, "out", "pkg/schema/data", "data directory to regenerate")
	flag.StringVar(&opts.SharedCRDs, "shared-crds", "pkg/schema/crds", "directory with the CRDs no module proxy serves (ACK; copied from ../shared/crds)")
	flag.StringVar(&opts.Kubeconform, "kubeconform", "", "also write standalone per-kind schemas for kubeconform into this directory")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", flag.Args())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return schema.Generate(ctx, opts)
}
