package preflight

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Prometheus is what a Prometheus server says about votecast.
type Prometheus struct {
	URL     string   `json:"url"`
	Targets []Target `json:"targets"` // the ones scraping votecast nodes
	Alerts  []string `json:"alerts"`  // alerting rules loaded, by name
	// Want are the alerts votecast ships (deploy/prometheus/alerts.yml).
	Want []string `json:"want"`
	Err  string   `json:"error,omitempty"`
}

// Target is one scrape target.
type Target struct {
	URL    string `json:"url"`
	Health string `json:"health"`
	Error  string `json:"error,omitempty"`
}

// AskPrometheus reads the active targets and the loaded rules of the
// Prometheus at base. A target scrapes votecast when its job's name
// holds "votecast" or its URL is one of nodes' /metrics.
func AskPrometheus(ctx context.Context, hc *http.Client, base string, want []string) *Prometheus {
	p := &Prometheus{URL: base, Want: want}
	var targets struct {
		Data struct {
			ActiveTargets []struct {
				ScrapePool string `json:"scrapePool"`
				ScrapeURL  string `json:"scrapeUrl"`
				Health     string `json:"health"`
				LastError  string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := getJSON(ctx, hc, strings.TrimSuffix(base, "/")+"/api/v1/targets?state=active", &targets); err != nil {
		p.Err = err.Error()
		return p
	}
	for _, t := range targets.Data.ActiveTargets {
		if strings.Contains(t.ScrapePool, "votecast") {
			p.Targets = append(p.Targets, Target{URL: t.ScrapeURL, Health: t.Health, Error: t.LastError})
		}
	}
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name string `json:"name"`
					Type string `json:"type"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := getJSON(ctx, hc, strings.TrimSuffix(base, "/")+"/api/v1/rules?type=alert", &rules); err != nil {
		p.Err = err.Error()
		return p
	}
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			if r.Type == "alerting" {
				p.Alerts = append(p.Alerts, r.Name)
			}
		}
	}
	return p
}

func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("ask prometheus: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("ask prometheus: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("ask prometheus %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ask prometheus %s: %s: %.200s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("ask prometheus %s: %w", url, err)
	}
	return nil
}
