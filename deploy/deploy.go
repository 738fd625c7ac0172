// Package deploy holds what operators run beside votecast: Prometheus's
// scrape config and alert rules, Grafana's dashboards. Go code reads the
// alert rules from here (votecast preflight checks Prometheus loaded
// them), so the file in the repo is the one list.
package deploy

import (
	_ "embed"
	"fmt"

	"go.yaml.in/yaml/v3"
)

//go:embed prometheus/alerts.yml
var alertsYAML []byte

// AlertNames are the alerts deploy/prometheus/alerts.yml defines, in its
// order.
func AlertNames() ([]string, error) {
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(alertsYAML, &f); err != nil {
		return nil, fmt.Errorf("read deploy/prometheus/alerts.yml: %w", err)
	}
	var names []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				names = append(names, r.Alert)
			}
		}
	}
	return names, nil
}
