package command

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/cluster"
)

func newClusterArgoCD(g *globals) *cobra.Command {
	var (
		env        string
		repo       string
		sharedCRDs string
		chartsFrom string
		timeout    time.Duration
		down       bool
	)
	cmd := &cobra.Command{
		Use:   "argocd [-e ENV] [--repo DIR] | argocd --down",
		Short: "Run ArgoCD for real on the embedded cluster and sync the App-of-Apps root from a local clone",
		Long: `argocd builds ArgoCD ` + cluster.ArgoCDVersion + ` once (cached in bin/cluster/, cold ~4-10 min), then on the
running embedded cluster starts redis-server, argocd-repo-server, argocd-application-controller and
an HTTPS git server serving a bare clone of the repository's HEAD (only committed content), all on
127.0.0.1; applies ArgoCD's settings, the AppProjects and the root Application argocd-root (as the
helmfile's argocd-apps values declare it) with the source at the local clone and the current branch,
and waits until argocd-root and every Application of its tree are Synced and Healthy.
In an environment whose charts come from ECR (prd), they are pulled from the ECR stand-in that
platform cluster registry runs (publish them there first; make up ENV=prd does it all): Argo CD
gets a repository Secret of the shape infra/ecr-credentials' ExternalSecret writes in production,
with a token from the stand-in's GetAuthorizationToken, and the stand-in's CA.
The children that pull official charts from the internet (source: helm) cannot sync offline: they
are listed with their comparison error and not waited for. The processes keep
running (platform cluster argocd --down, or platform cluster down, stops them); logs in
.cache/cluster/logs/argocd-*.log.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := cluster.New(g.root, g.stderr)
			a := &cluster.ArgoCD{Cluster: c, Root: g.root, Repo: repo, Env: env, Timeout: timeout, SharedCRDs: sharedCRDs, Log: g.stderr}
			if down {
				return a.Stop(cmd.Context())
			}
			oci, err := ociSource(cmd, g, c, env)
			if err != nil {
				return err
			}
			if oci != nil {
				oci.ChartsFrom = defaultChartsFrom(g.root, chartsFrom)
			}
			a.OCI = oci
			return runArgoCD(cmd, g, a)
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", "dev", "environment of the root Application")
	cmd.Flags().StringVar(&repo, "repo", "", "git repository served to ArgoCD (its HEAD; default: this repository, e.g. .cache/up/repo)")
	cmd.Flags().StringVar(&sharedCRDs, "shared-crds", "", "directory of the CRDs no module proxy serves (default: as platform cluster apply)")
	cmd.Flags().StringVar(&chartsFrom, "charts-from", "", "folder of packaged official charts served through the ECR stand-in (prd; default: ../shared/charts beside the repository when it exists)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "bound of the wait for the Applications")
	cmd.Flags().BoolVar(&down, "down", false, "stop ArgoCD's processes instead")
	return cmd
}

func runArgoCD(cmd *cobra.Command, g *globals, a *cluster.ArgoCD) error {
	res, err := a.Run(cmd.Context())
	if res != nil && len(res.Apps) > 0 {
		if werr := cluster.WriteAppTable(g.stdout, res.Apps); werr != nil {
			return werr
		}
	}
	if res != nil {
		for _, name := range slices.Sorted(maps.Keys(res.Excluded)) {
			fmt.Fprintf(g.stdout, "not waited for: %s (%s)\n", name, res.Excluded[name])
		}
	}
	if res != nil {
		for _, s := range res.Served {
			fmt.Fprintf(g.stdout, "override of the embedded run: %s\n", s)
		}
	}
	for _, o := range cluster.Overrides {
		fmt.Fprintf(g.stdout, "override of the embedded run: %s\n", o)
	}
	if err != nil {
		return err
	}
	ok, simulated := 0, 0
	for _, s := range res.Apps {
		switch {
		case s.OK():
			ok++
		case !s.Offline && s.Note != "":
			simulated++
		}
	}
	fmt.Fprintf(g.stderr, "argocd: %d Applications Synced and Healthy, %d held by an operator not run here (simulated), %d official ones expected offline, in %s (%s at %s)\n",
		ok, simulated, len(res.Excluded), res.Duration.Round(100*time.Millisecond), res.State.Revision, res.State.Commit)
	return nil
}

// ociSource is the stand-in's repository and login for an environment whose Applications
// pull from ECR; nil for one that pulls from git.
func ociSource(cmd *cobra.Command, g *globals, c *cluster.Cluster, env string) (*cluster.OCISource, error) {
	prod, err := cluster.OCIRepository(g.root, env)
	if err != nil || prod == "" {
		return nil, err
	}
	st, err := (&cluster.Registry{Cluster: c, Root: g.root}).ReadState()
	if err != nil {
		return nil, fmt.Errorf("the %s Applications pull their charts from %s: run the ECR stand-in and publish into it first (platform cluster registry; make up ENV=%s does both): %w", env, prod, env, err)
	}
	user, pass, err := st.Login(cmd.Context())
	if err != nil {
		return nil, fmt.Errorf("ECR stand-in login: %w", err)
	}
	return &cluster.OCISource{RepoURL: st.Repository(prod), CAFile: st.Settings["SSL_CERT_FILE"], Username: user, Password: pass}, nil
}

// defaultChartsFrom is flag, else ../shared/charts beside the repository when it exists.
func defaultChartsFrom(root, flag string) string {
	if flag != "" {
		return flag
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "charts")
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir
	}
	return ""
}
