package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// The alert rules (deploy/prometheus/alerts.yml) and the Grafana
// dashboards (deploy/grafana/dashboards) name metrics, labels and label
// values as strings the compiler never sees: a renamed metric leaves a
// panel empty and an alert silent. TestDeployMetricsExported reads every
// query there and checks it against what a running `votecast serve`
// exports at /metrics. promtool (scripts/test) checks the rules' syntax
// and behaviour; this checks their names.

// query is one PromQL expression a deploy file runs, and where.
type query struct {
	where string // file and rule or panel, for the failure
	expr  string
}

// selector is one series a query reads: a metric name and its matchers.
type selector struct {
	name     string
	matchers []matcher
}

type matcher struct{ label, op, value string }

// targetLabels are added by Prometheus at the scrape, not by votecast.
var targetLabels = map[string]bool{"instance": true, "job": true}

// prometheusSeries are series Prometheus makes itself.
var prometheusSeries = map[string]bool{"up": true}

func TestDeployMetricsExported(t *testing.T) {
	queries := slices.Concat(alertQueries(t), dashboardQueries(t))
	if len(queries) == 0 {
		t.Fatal("no queries found in deploy/")
	}

	// A node full at one viewer, so a second votes from the waiting
	// room's line: series with labels only appear once they counted
	// something (votes folded by outcome, line votes by answer).
	s := startServer(t, t.TempDir(), func(c *serveConfig) { c.maxConns = 1 })
	poll := s.openPoll(2)
	s.dial(poll.ID, "on-socket").mustVote("v1", 0, 1, "accepted")
	l := s.line(poll.ID, "in-line")
	p := l.join()
	if code, ans := l.vote(p.Ticket, "l1", 1); code != http.StatusOK || ans != "accepted" {
		t.Fatalf("vote from the line: HTTP %d %s", code, ans)
	}
	s.waitTotals(poll.ID, []int64{1, 1})
	series := scrapeSeries(t, s.url("/metrics"))

	var problems []string
	for _, q := range queries {
		sels, err := selectors(q.expr)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v in %q", q.where, err, q.expr))
			continue
		}
		if len(sels) == 0 {
			problems = append(problems, fmt.Sprintf("%s: no metric in %q", q.where, q.expr))
		}
		for _, sel := range sels {
			if err := series.check(sel); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", q.where, err))
			}
		}
	}
	slices.Sort(problems)
	for _, p := range slices.Compact(problems) {
		t.Error(p)
	}
}

// exported is what a node serves at /metrics: for each series name (a
// histogram's _bucket, _sum and _count apart), its labels and their values.
type exported map[string]map[string]map[string]bool

func scrapeSeries(t *testing.T, url string) exported {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: HTTP %d", url, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	ex := exported{}
	add := func(name string, labels map[string]string) {
		if ex[name] == nil {
			ex[name] = map[string]map[string]bool{}
		}
		for k, v := range labels {
			if ex[name][k] == nil {
				ex[name][k] = map[string]bool{}
			}
			ex[name][k][v] = true
		}
	}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			switch f.GetType().String() {
			case "HISTOGRAM":
				add(name+"_sum", labels)
				add(name+"_count", labels)
				for _, b := range m.GetHistogram().GetBucket() {
					add(name+"_bucket", merge(labels, "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)))
				}
				add(name+"_bucket", merge(labels, "le", "+Inf"))
			case "SUMMARY":
				add(name+"_sum", labels)
				add(name+"_count", labels)
				for _, q := range m.GetSummary().GetQuantile() {
					add(name, merge(labels, "quantile", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64)))
				}
			default:
				add(name, labels)
			}
		}
	}
	return ex
}

func merge(labels map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for lk, lv := range labels {
		out[lk] = lv
	}
	return out
}

// check says what of sel the node does not export: the metric, a label
// it selects on, or a value an equality matcher asks for.
func (ex exported) check(sel selector) error {
	if prometheusSeries[sel.name] {
		return nil
	}
	labels, ok := ex[sel.name]
	if !ok {
		return fmt.Errorf("%s is not exported by votecast serve", sel.name)
	}
	for _, m := range sel.matchers {
		if targetLabels[m.label] {
			continue
		}
		values, ok := labels[m.label]
		if !ok {
			return fmt.Errorf("%s has no label %q (it has %v)", sel.name, m.label, sortedKeys(labels))
		}
		if strings.Contains(m.value, "$") {
			continue // a Grafana variable
		}
		switch m.op {
		case "=":
			if !values[m.value] {
				return fmt.Errorf("%s{%s=%q}: no such value exported (there are %v)", sel.name, m.label, m.value, sortedKeys(values))
			}
		case "=~":
			re, err := regexp.Compile("^(?:" + m.value + ")$")
			if err != nil {
				return fmt.Errorf("%s{%s=~%q}: %v", sel.name, m.label, m.value, err)
			}
			if !slices.ContainsFunc(sortedKeys(values), re.MatchString) {
				return fmt.Errorf("%s{%s=~%q}: matches no exported value (there are %v)", sel.name, m.label, m.value, sortedKeys(values))
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// alertRules is deploy/prometheus/alerts.yml.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

const alertsFile = "deploy/prometheus/alerts.yml"

func loadAlerts(t *testing.T) alertRules {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, alertsFile))
	if err != nil {
		t.Fatal(err)
	}
	var r alertRules
	if err := yaml.Unmarshal(b, &r); err != nil {
		t.Fatalf("parse %s: %v", alertsFile, err)
	}
	return r
}

// annotationMetric finds the metrics an annotation's template queries.
var annotationMetric = regexp.MustCompile(`\b(?:votecast|go|process)_[a-zA-Z0-9_]+`)

func alertQueries(t *testing.T) []query {
	var qs []query
	for _, g := range loadAlerts(t).Groups {
		for _, r := range g.Rules {
			where := fmt.Sprintf("%s: %s", alertsFile, r.Alert+r.Record)
			qs = append(qs, query{where, r.Expr})
			for k, a := range r.Annotations {
				for _, name := range annotationMetric.FindAllString(a, -1) {
					qs = append(qs, query{where + " annotation " + k, name})
				}
			}
		}
	}
	return qs
}

// dashboard is the part of a Grafana dashboard's JSON model that says
// what it queries.
type dashboard struct {
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []dashPanel `json:"panels"`
}

type dashPanel struct {
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource *dashDatasource `json:"datasource"`
	Targets    []struct {
		Expr       string          `json:"expr"`
		Datasource *dashDatasource `json:"datasource"`
	} `json:"targets"`
	Panels []dashPanel `json:"panels"` // a row's
}

type dashDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

const dashboardsDir = "deploy/grafana/dashboards"

// dashboardQueries reads every panel's queries and every variable's, and
// checks that each reads the data source the user picks.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, dashboardsDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s: %v", dashboardsDir, err)
	}
	var qs []query
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		name := path.Join(dashboardsDir, filepath.Base(f))
		hasDatasource := false
		for _, v := range d.Templating.List {
			switch v.Type {
			case "datasource":
				hasDatasource = v.Name == "datasource" && string(v.Query) == `"prometheus"`
			case "query":
				q, err := variableQuery(v.Query)
				if err != nil {
					t.Errorf("%s: variable %s: %v", name, v.Name, err)
				}
				qs = append(qs, query{fmt.Sprintf("%s: variable %s", name, v.Name), q})
			}
		}
		if !hasDatasource {
			t.Errorf("%s: no Prometheus data source variable named datasource", name)
		}
		var walk func([]dashPanel)
		walk = func(panels []dashPanel) {
			for _, p := range panels {
				walk(p.Panels)
				if p.Type == "row" {
					continue
				}
				where := fmt.Sprintf("%s: panel %q", name, p.Title)
				if !isPicked(p.Datasource) {
					t.Errorf("%s: data source %+v, want uid ${datasource}", where, p.Datasource)
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s: no queries", where)
				}
				for _, tg := range p.Targets {
					if !isPicked(tg.Datasource) {
						t.Errorf("%s: a query's data source %+v, want uid ${datasource}", where, tg.Datasource)
					}
					qs = append(qs, query{where, tg.Expr})
				}
			}
		}
		walk(d.Panels)
	}
	return qs
}

func isPicked(ds *dashDatasource) bool {
	return ds != nil && ds.Type == "prometheus" && ds.UID == "${datasource}"
}

// labelValues is Grafana's label_values(selector, label) variable query.
var labelValues = regexp.MustCompile(`^\s*label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

// variableQuery turns a variable's query (a string, or an object with
// one) into PromQL: label_values(m, l) reads m, and needs l on it.
func variableQuery(raw json.RawMessage) (string, error) {
	var q string
	if err := json.Unmarshal(raw, &q); err != nil {
		var obj struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return "", fmt.Errorf("query %s: %w", raw, err)
		}
		q = obj.Query
	}
	m := labelValues.FindStringSubmatch(q)
	if m == nil {
		return q, nil
	}
	if targetLabels[m[2]] {
		return m[1], nil
	}
	// The label must be on the series: ask for it by a matcher.
	sel := strings.TrimSpace(m[1])
	if i := strings.LastIndexByte(sel, '}'); i >= 0 {
		return sel[:i] + `,` + m[2] + `=~".*"}`, nil
	}
	return sel + `{` + m[2] + `=~".*"}`, nil
}

// grouping keywords take a list of label names, not series.
var groupingKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

var promKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
	// aggregations, which may take their grouping before the "("
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// selectors scans a PromQL expression for the series it reads. An
// identifier is a metric name unless it is a keyword, a function or
// aggregation (followed by "("), or in a grouping's label list; the
// braces after a name are its matchers. Strings, ranges and Grafana
// variables ($__rate_interval, ${datasource}) are skipped. A scanner, not
// a parser: promtool checks the rules' syntax (scripts/test), and it
// reads well-formed PromQL right.
func selectors(expr string) ([]selector, error) {
	var out []selector
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			_, end, err := promString(expr, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '$':
			i = skipVariable(expr, i)
		case c == '[':
			end := strings.IndexByte(expr[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [ at %d", i)
			}
			i += end + 1
		case c == '{':
			return nil, fmt.Errorf("a selector without a metric name at %d", i)
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdentChar(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			end := i
			for end < len(expr) && isIdentChar(expr[end]) {
				end++
			}
			word, next := expr[i:end], skipSpace(expr, end)
			switch {
			case groupingKeywords[strings.ToLower(word)]:
				if next < len(expr) && expr[next] == '(' {
					close := strings.IndexByte(expr[next:], ')')
					if close < 0 {
						return nil, fmt.Errorf("unclosed label list after %s", word)
					}
					end = next + close + 1
				}
			case next < len(expr) && expr[next] == '(':
				// a function or an aggregation
			case promKeywords[strings.ToLower(word)]:
			default:
				sel := selector{name: word}
				if next < len(expr) && expr[next] == '{' {
					ms, after, err := promMatchers(expr, next)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", word, err)
					}
					sel.matchers, end = ms, after
				}
				out = append(out, sel)
			}
			i = end
		default:
			i++
		}
	}
	return out, nil
}

// promMatchers reads {label op "value", ...} from expr[i] == '{'; it
// returns the matchers and the index after the closing brace.
func promMatchers(expr string, i int) ([]matcher, int, error) {
	var ms []matcher
	i++
	for {
		i = skipSpace(expr, i)
		if i < len(expr) && expr[i] == '}' {
			return ms, i + 1, nil
		}
		start := i
		for i < len(expr) && isIdentChar(expr[i]) {
			i++
		}
		label := expr[start:i]
		i = skipSpace(expr, i)
		op := ""
		for _, o := range []string{"=~", "!~", "!=", "="} {
			if strings.HasPrefix(expr[i:], o) {
				op = o
				break
			}
		}
		if label == "" || op == "" {
			return nil, 0, fmt.Errorf("bad matcher at %d", start)
		}
		i = skipSpace(expr, i+len(op))
		value, end, err := promString(expr, i)
		if err != nil {
			return nil, 0, err
		}
		ms = append(ms, matcher{label, op, value})
		i = skipSpace(expr, end)
		if i < len(expr) && expr[i] == ',' {
			i++
		}
	}
}

// promString reads the string literal at expr[i] ("…", '…' or `…`) and
// returns its value and the index after it.
func promString(expr string, i int) (string, int, error) {
	if i >= len(expr) || !strings.ContainsRune("\"'`", rune(expr[i])) {
		return "", 0, fmt.Errorf("want a string at %d", i)
	}
	q := expr[i]
	j := i + 1
	for j < len(expr) && expr[j] != q {
		if expr[j] == '\\' && q != '`' {
			j++
		}
		j++
	}
	if j >= len(expr) {
		return "", 0, fmt.Errorf("unclosed string at %d", i)
	}
	raw := expr[i+1 : j]
	if q == '`' {
		return raw, j + 1, nil
	}
	if q == '\'' {
		raw = strings.ReplaceAll(strings.ReplaceAll(raw, `\'`, `'`), `"`, `\"`)
	}
	v, err := strconv.Unquote(`"` + raw + `"`)
	if err != nil {
		return "", 0, fmt.Errorf("string at %d: %w", i, err)
	}
	return v, j + 1, nil
}

// skipVariable skips a Grafana variable: $name or ${name...}.
func skipVariable(expr string, i int) int {
	i++
	if i < len(expr) && expr[i] == '{' {
		if end := strings.IndexByte(expr[i:], '}'); end >= 0 {
			return i + end + 1
		}
		return len(expr)
	}
	for i < len(expr) && isIdentChar(expr[i]) {
		i++
	}
	return i
}

func skipSpace(s string, i int) int {
	for i < len(s) && strings.ContainsRune(" \t\r\n", rune(s[i])) {
		i++
	}
	return i
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// TestSelectors shows what the scanner reads out of the PromQL the deploy
// files use.
func TestSelectors(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want string // name{label op value,...} per selector, space-separated
	}{
		{`histogram_quantile(0.99, sum by (instance, le) (rate(votecast_ingest_publish_seconds_bucket[1m]))) > 0.25`,
			`votecast_ingest_publish_seconds_bucket{}`},
		{`sum by (instance) (rate(votecast_ingest_acks_total{status="retry"}[1m])) / sum by (instance) (rate(votecast_ingest_acks_total[1m])) > 0.01`,
			`votecast_ingest_acks_total{status=retry} votecast_ingest_acks_total{}`},
		{"votecast_tally_pending_events > 100\n  and deriv(votecast_tally_pending_events[30s]) > 0",
			`votecast_tally_pending_events{} votecast_tally_pending_events{}`},
		{`absent(votecast_tally_owned_shards)`, `votecast_tally_owned_shards{}`},
		{`rate(process_cpu_seconds_total{instance=~"$instance", job!="prometheus"}[$__rate_interval])`,
			`process_cpu_seconds_total{instance=~$instance,job!=prometheus}`},
		{`sum(x) without (le) + on(instance) group_left(version) votecast_build_info offset 5m`,
			`x{} votecast_build_info{}`},
		{`label_replace(up{job='a\'b'}, "dst", "$1 {not} a_selector", "src", "(.*)")`,
			`up{job=a'b}`},
		{"up{job=`raw\\`}", `up{job=raw\}`},
		{`sum(rate(a:recorded:rate5m{code=~"5.."}[5m] offset 1h)) by (code)`, `a:recorded:rate5m{code=~5..}`},
		{`topk by (stream) (3, min without (instance) (votecast_log_replicas_current))`, `votecast_log_replicas_current{}`},
	} {
		sels, err := selectors(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		var got []string
		for _, s := range sels {
			var ms []string
			for _, m := range s.matchers {
				ms = append(ms, m.label+m.op+m.value)
			}
			got = append(got, s.name+"{"+strings.Join(ms, ",")+"}")
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.expr, g, tc.want)
		}
	}
	for _, bad := range []string{`{job="a"}`, `x{job="a}`, `x{job}`, `rate(x[5m`} {
		if _, err := selectors(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// readmeAnchors are the anchors GitHub gives README.md's headings:
// lower case, spaces to hyphens, other punctuation dropped.
func readmeAnchors(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	inCode := false
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		var slug strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#"))) {
			switch {
			case r == ' ':
				slug.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				slug.WriteRune(r)
			}
		}
		anchors[slug.String()] = true
	}
	return anchors
}

const runbookBase = "https://github.com/votecast/votecast/blob/main/README.md#"

// TestDeployAlertsRunbook checks that every alert says how bad it is, what
// happened, and links its own entry of the README's runbook.
func TestDeployAlertsRunbook(t *testing.T) {
	anchors := readmeAnchors(t)
	n := 0
	for _, g := range loadAlerts(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			// An absent() alert has no value to say; the others say theirs,
			// or one they query.
			if d := r.Annotations["description"]; !strings.Contains(d, "$value") && !strings.Contains(d, "| query") && !strings.HasPrefix(r.Expr, "absent(") {
				t.Errorf("%s: the description does not say the value", r.Alert)
			}
			want := runbookBase + strings.ToLower(r.Alert)
			if got := r.Annotations["runbook_url"]; got != want {
				t.Errorf("%s: runbook_url %s, want %s", r.Alert, got, want)
			}
			if !anchors[strings.ToLower(r.Alert)] {
				t.Errorf("%s: README.md has no heading %q for its runbook entry", r.Alert, r.Alert)
			}
		}
	}
	if n == 0 {
		t.Fatalf("%s has no alerts", alertsFile)
	}
}

// TestDeployComposeMounts checks that the containers find the files:
// every rule file prometheus.yml loads is mounted beside it, and the
// Grafana provider's dashboards directory is deploy/grafana/dashboards.
func TestDeployComposeMounts(t *testing.T) {
	f := loadCompose(t, filepath.Join(repoRoot, "docker-compose.yml"))
	prom, ok := f.Services["prometheus"]
	if !ok {
		t.Fatal("docker-compose.yml has no prometheus service")
	}
	var cfg struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	readYAML(t, "deploy/prometheus/prometheus.yml", &cfg)
	if !slices.Contains(cfg.RuleFiles, "alerts.yml") {
		t.Errorf("prometheus.yml loads rule files %v, not alerts.yml", cfg.RuleFiles)
	}
	for _, rf := range cfg.RuleFiles {
		target := path.Join("/etc/prometheus", rf) // relative to the config file
		src, _, ok := mountOf(prom, target)
		if !ok {
			t.Errorf("prometheus: rule file %s is not mounted", target)
			continue
		}
		if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil {
			t.Errorf("prometheus: rule file %s is mounted from %s: %v", target, src, err)
		}
	}

	graf, ok := f.Services["grafana"]
	if !ok {
		t.Fatal("docker-compose.yml has no grafana service")
	}
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "deploy/grafana/provisioning/dashboards/votecast.yml", &prov)
	if len(prov.Providers) != 1 {
		t.Fatalf("dashboard providers %+v, want one", prov.Providers)
	}
	if src, _, ok := mountOf(graf, prov.Providers[0].Options.Path); !ok || filepath.Clean(src) != "deploy/grafana/dashboards" {
		t.Errorf("grafana: the provider reads %s, mounted from %q, want ./deploy/grafana/dashboards", prov.Providers[0].Options.Path, src)
	}
	if src, _, ok := mountOf(graf, "/etc/grafana/provisioning"); !ok || filepath.Clean(src) != "deploy/grafana/provisioning" {
		t.Errorf("grafana: /etc/grafana/provisioning mounted from %q, want ./deploy/grafana/provisioning", src)
	}
}

func readYAML(t *testing.T, name string, out any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, out); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
}
