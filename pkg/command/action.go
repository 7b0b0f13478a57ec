package command

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/action"
)

func newAction(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "action",
		Short: "The GitHub action's entrypoint: run the command named by INPUT_COMMAND",
		Long: `action is the entrypoint of the container action (action.yml). It reads the inputs from
INPUT_* (command, environment, working-directory, base, github-token, registry, dry-run),
the event from GITHUB_EVENT_PATH, runs plan, publish, validate, catalog or diff, writes
findings as annotations, outputs to GITHUB_OUTPUT and a summary to GITHUB_STEP_SUMMARY.
Run by hand (no GITHUB_* variables), outputs and the summary are printed on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			err := (&action.Action{Getenv: os.Getenv, Stdout: g.stdout, Stderr: g.stderr}).Run(cmd.Context())
			var failed *action.FailedError
			if errors.As(err, &failed) {
				fmt.Fprintln(g.stderr, failed.Summary)
				return &ExitError{Code: 1}
			}
			return err
		},
	}
}
