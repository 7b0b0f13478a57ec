package command

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/action"
	"github.com/microservices-manifests/microservices-manifests/pkg/github"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

func newPlan(g *globals) *cobra.Command {
	p := &action.Planner{}
	var repository, apiURL string
	var official officialFlags
	cmd := &cobra.Command{
		Use:   "plan [--base REF]",
		Short: "Release-branch step: validate, render release/<env>/, commit it, and write the PR comment",
		Long: `plan validates the repository, renders the plan of every environment into release/<env>/,
commits it and composes the sticky pull-request comment: the manifest diff against --base and
the service catalog.

Embedded default (no --github-repository): the plan is written into the working tree and
committed to the current branch of the local git repository (only release/ is committed;
no commit when nothing changed), and the comment is printed on stdout.

With --github-repository OWNER/NAME and GITHUB_TOKEN in the environment, the plan is
committed onto --branch through the GitHub Git Data API and the comment is created or
updated on pull request --pr (this is what the action does).

The official chart of every Argo CD Application (kube-prometheus-stack, istiod, ...) is
rendered too, at the version each side pins, planned in release/<env>/<application>/ and
diffed: a chart bump lists every object it changes under its Application, the version
change first. Charts come from --charts-from, then .cache/charts, then the network
(--offline: never); --official=false plans and diffs our charts only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p.Root, p.Log = g.root, g.stderr
			p.Official = official.resolver(g)
			if repository != "" {
				token := os.Getenv("GITHUB_TOKEN")
				if token == "" {
					return fmt.Errorf("--github-repository needs GITHUB_TOKEN in the environment")
				}
				c, err := github.New(apiURL, token, repository)
				if err != nil {
					return err
				}
				p.GitHub = c
			}
			if p.GitHub == nil || p.PR == 0 {
				p.Comment = g.stdout
			}
			res, err := p.Run(cmd.Context())
			if err != nil {
				return err
			}
			if res.Report.Failed() {
				if err := report.Text(g.stderr, res.Report); err != nil {
					return err
				}
				official.hint(g, res.Report)
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&p.Base, "base", "", "revision to diff against, e.g. main (default: no diff)")
	cmd.Flags().StringSliceVarP(&p.Envs, "env", "e", nil, "environment(s) (default: all)")
	cmd.Flags().BoolVar(&p.DryRun, "dry-run", false, "render and print the comment; commit and post nothing")
	cmd.Flags().StringVar(&repository, "github-repository", "", "OWNER/NAME: commit and comment through the GitHub API (token from GITHUB_TOKEN)")
	cmd.Flags().StringVar(&apiURL, "github-api-url", os.Getenv("GITHUB_API_URL"), "GitHub API URL (default https://api.github.com/)")
	cmd.Flags().StringVar(&p.Branch, "branch", "", "branch to commit the plan to (with --github-repository)")
	cmd.Flags().IntVar(&p.PR, "pr", 0, "pull request to comment on (with --github-repository)")
	official.bind(cmd, "and plan (release/<env>/<application>/) and diff its objects")
	return cmd
}
