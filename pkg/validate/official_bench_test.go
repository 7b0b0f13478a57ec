package validate

import (
	"context"
	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
)

// BenchmarkValidateOfficial measures the whole repository with every official chart of both
// environments, `platform validate --official --charts-from ../shared/charts --offline`
// (go test -bench ValidateOfficial -run ^$ ./pkg/validate/). The resolver is made anew
// per run, as each CLI run makes one: it caches the archives it read.
func BenchmarkValidateOfficial(b *testing.B) {
	charts := []string{testutil.SharedCharts(b)}
	var objects, official int
	for b.Loop() {
		res, err := (&Validator{Root: "../..", Official: &chartsource.Resolver{ChartsFrom: charts, Offline: true}}).Run(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		objects, official = res.Report.Objects, 0
		for _, r := range res.Official {
			official += len(r.Objects)
		}
	}
	if official == 0 {
		b.Fatal("no official chart rendered")
	}
	b.ReportMetric(float64(objects), "objects")
	b.ReportMetric(float64(official), "official-objects")
}
