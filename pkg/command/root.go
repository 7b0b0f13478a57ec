// Package command maps the platform's command line onto the library packages: each
// subcommand has one constructor, reads flags into options, and calls a Run method.
package command

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
)

// ExitError ends the program with Code after the command printed its own report.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// globals are the flags every subcommand shares.
type globals struct {
	root   string
	stdout io.Writer
	stderr io.Writer
}

// NewRoot builds the platform command tree. Stdout carries data, stderr status.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	cmd := &cobra.Command{
		Use:   "platform",
		Short: "Render, validate and publish the microservices platform's charts",
		Long: `platform renders every chart of the repository for every environment with the Helm SDK,
validates each object strictly against the Kubernetes 1.35 OpenAPI and the CRDs it uses,
and writes the plan manifests that the release manager reviews.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if g.root == "" {
				g.root = repoRoot()
			}
			return nil
		},
	}
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.PersistentFlags().StringVar(&g.root, "root", "", "repository root (default: the enclosing git repository, else the current directory)")
	cmd.AddCommand(newList(g), newValidate(g), newRender(g), newPublish(g), newSetImage(g), newDiff(g), newCatalog(g), newPlan(g), newAction(g), newPolicy(g), newCheckVersion(g), newCluster(g), newRegistry(g))
	return cmd
}

// repoRoot is the enclosing git work tree, or the current directory.
func repoRoot() string {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err == nil {
		if top := strings.TrimSpace(string(out)); top != "" {
			return top
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	return wd
}
