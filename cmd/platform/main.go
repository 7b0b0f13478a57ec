// Command platform renders, validates, diffs, publishes and deploys the charts of this
// repository. It is also the entrypoint of the repository's GitHub action.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
	"github.com/microservices-manifests/microservices-manifests/pkg/command"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := command.NewRoot(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err == nil {
		return
	}
	var exit *command.ExitError
	if !errors.As(err, &exit) {
		// The error may quote what a repository holds (a chart's fail message, a name): on a
		// runner a newline in it would start a workflow command.
		fmt.Fprintln(os.Stderr, "platform:", escape.Block(err.Error()))
		os.Exit(1)
	}
	os.Exit(exit.Code)
}
