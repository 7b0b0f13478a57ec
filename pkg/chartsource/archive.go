package chartsource

import (
	"bytes"
	"errors"
	"fmt"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
)

// loadChecked loads a chart archive from someone else's server after checking every
// entry, its packaged sub-charts' too (repofs.CheckArchive, the check a packaged sub-chart of
// the repository gets): Helm's loader refuses "../" entries and bounds each archive alone,
// but loads link entries as empty files and does not bound the sub-charts packaged inside.
func loadChecked(data []byte) (*chart.Chart, error) {
	if err := repofs.CheckArchive("", data); err != nil {
		var e *repofs.Error
		if !errors.As(err, &e) {
			return nil, err
		}
		if e.Path == "" {
			return nil, errors.New(e.Msg)
		}
		return nil, fmt.Errorf("%s: %s", e.Path, e.Msg)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return ch, nil
}
