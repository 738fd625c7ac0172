package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
	"go.yaml.in/yaml/v3"
)

// No container engine runs where the tests do, so docker-compose.yml is
// checked here against what would read it: each votecast service's
// command and VOTECAST_* variables are parsed by the binary's own flag
// sets with its own environment fallbacks (over the Dockerfile's ENV, as
// in the container), and each NATS node's command and config file by
// nats-server's own option parser, the version the nats image runs.
// `docker-compose config -q` in scripts/test checks the file's syntax.

const repoRoot = "../.."

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string      `yaml:"image"`
	Build       any         `yaml:"build"`
	Command     commandLine `yaml:"command"`
	Environment environment `yaml:"environment"`
	Volumes     []string    `yaml:"volumes"`
	Ports       []string    `yaml:"ports"`
	DependsOn   dependsOn   `yaml:"depends_on"`
	Healthcheck any         `yaml:"healthcheck"`
}

// commandLine is a command as a list, or as a string compose splits on
// spaces; a string with quotes would need compose's shell rules, which
// this test does not copy, so it is refused.
type commandLine []string

func (c *commandLine) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if strings.ContainsAny(n.Value, `"'\`) {
			return fmt.Errorf("line %d: write a command with quotes as a list", n.Line)
		}
		*c = strings.Fields(n.Value)
		return nil
	}
	var l []string
	err := n.Decode(&l)
	*c = l
	return err
}

// environment is compose's map or list of KEY=VALUE.
type environment map[string]string

func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	*e = environment{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
		return nil
	}
	m := map[string]string{}
	err := n.Decode(&m)
	*e = m
	return err
}

// dependsOn maps a service to its condition; compose's short list form
// means service_started.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, s := range l {
			(*d)[s] = "service_started"
		}
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for s, c := range m {
		(*d)[s] = c.Condition
	}
	return nil
}

// interpolation is compose's ${VAR}, ${VAR:-default} and ${VAR-default}.
var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}`)

// loadCompose reads a compose file the way compose would with none of
// its variables set: every ${VAR:-default} is its default, so the test
// checks what `docker compose up` runs on a fresh checkout.
func loadCompose(t *testing.T, path string) composeFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read compose file: %v", err)
	}
	s := strings.ReplaceAll(string(b), "$$", "\x00")
	s = interpolation.ReplaceAllString(s, "$2")
	if i := strings.Index(s, "$"); i >= 0 {
		t.Fatalf("%s: an interpolation this test does not understand near %q", path, s[i:min(len(s), i+40)])
	}
	s = strings.ReplaceAll(s, "\x00", "$")
	var f composeFile
	if err := yaml.Unmarshal([]byte(s), &f); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if len(f.Services) == 0 {
		t.Fatalf("%s has no services", path)
	}
	return f
}

// imageEnv is the ENV of the Dockerfile's final stage: what every
// container of the image starts with before compose's environment.
func imageEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read Dockerfile: %v", err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	env := map[string]string{}
	for line := range strings.Lines(text) {
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
		case strings.EqualFold(fields[0], "FROM"):
			clear(env)
		case strings.EqualFold(fields[0], "ENV"):
			for _, kv := range fields[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("Dockerfile: write ENV as KEY=VALUE, not %q", line)
				}
				env[k] = v
			}
		}
	}
	return env
}

func findSubcommand(name string) *ffcli.Command {
	for _, c := range subcommands() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// envKeys maps each VOTECAST_* variable a flag set reads, the way ff
// names them, to its flag.
func envKeys(fs *flag.FlagSet) map[string]string {
	keys := map[string]string{}
	replacer := strings.NewReplacer("-", "_", ".", "_", "/", "_")
	fs.VisitAll(func(f *flag.Flag) {
		keys["VOTECAST_"+replacer.Replace(strings.ToUpper(f.Name))] = f.Name
	})
	return keys
}

// parsed is one votecast service's command as the binary parses it.
type parsed struct {
	sub string
	fs  *flag.FlagSet
}

func (p parsed) get(name string) string { return p.fs.Lookup(name).Value.String() }

// parseVotecast checks a votecast service's command and environment
// against the real subcommand and returns its parsed flags. Every flag on
// the command line must exist (FlagSet.Lookup), every VOTECAST_* variable
// must be one the subcommand reads, and ff.Parse, with the image's and
// the service's environment in place, must accept the values.
func parseVotecast(t *testing.T, name string, svc composeService, image map[string]string) (parsed, error) {
	if len(svc.Command) == 0 {
		return parsed{}, fmt.Errorf("service %s has no command: the image's default would run", name)
	}
	cmd := findSubcommand(svc.Command[0])
	if cmd == nil {
		return parsed{}, fmt.Errorf("service %s: votecast has no subcommand %q", name, svc.Command[0])
	}
	fs := cmd.FlagSet
	fs.SetOutput(io.Discard)
	args := svc.Command[1:]
	for i, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			continue
		}
		flagName, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if fs.Lookup(flagName) == nil {
			return parsed{}, fmt.Errorf("service %s: votecast %s has no flag %q (argument %d of its command)", name, cmd.Name, a, i+1)
		}
	}
	keys := envKeys(fs)
	for k := range svc.Environment {
		if _, ok := keys[k]; !ok {
			return parsed{}, fmt.Errorf("service %s: votecast %s reads no variable %s (no flag of that name)", name, cmd.Name, k)
		}
	}
	// The container's environment only: the test's own must not leak in.
	for k := range keys {
		t.Setenv(k, "")
	}
	for k, v := range image {
		t.Setenv(k, v)
	}
	for k, v := range svc.Environment {
		t.Setenv(k, v)
	}
	if err := ff.Parse(fs, args, cmd.Options...); err != nil {
		return parsed{}, fmt.Errorf("service %s: votecast %s: %w", name, cmd.Name, err)
	}
	if fs.NArg() > 0 {
		return parsed{}, fmt.Errorf("service %s: votecast %s takes no arguments, got %q", name, cmd.Name, fs.Args())
	}
	return parsed{sub: cmd.Name, fs: fs}, nil
}

// mountOf returns the source of the volume mounted at target, and
// whether it is a named volume (not a host path).
func mountOf(svc composeService, target string) (source string, named, ok bool) {
	for _, v := range svc.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && filepath.Clean(parts[1]) == filepath.Clean(target) {
			src := parts[0]
			return src, !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, "~"), true
		}
	}
	return "", false, false
}

func TestComposeVotecastFlags(t *testing.T) {
	f := loadCompose(t, filepath.Join(repoRoot, "docker-compose.yml"))
	image := imageEnv(t, filepath.Join(repoRoot, "Dockerfile"))
	for k := range image {
		if strings.HasPrefix(k, "VOTECAST_") {
			if _, ok := envKeys(serveCommand().FlagSet)[k]; !ok {
				t.Errorf("Dockerfile: ENV %s is read by no flag of votecast serve", k)
			}
		}
	}
	var votecast []string
	for name, svc := range f.Services {
		if svc.Build != nil || strings.HasPrefix(svc.Image, "votecast") {
			votecast = append(votecast, name)
		}
	}
	slices.Sort(votecast)
	for _, want := range []string{"edge1", "edge2", "migrate", "tally1", "tally2"} {
		if !slices.Contains(votecast, want) {
			t.Errorf("docker-compose.yml has no votecast service %s (has %v)", want, votecast)
		}
	}
	for _, name := range votecast {
		t.Run(name, func(t *testing.T) {
			svc := f.Services[name]
			if svc.Build == nil {
				t.Errorf("service %s runs image %s without build: the image built from the Dockerfile is the only votecast image", name, svc.Image)
			}
			if _, err := parseVotecast(t, name, svc, image); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestComposeCommandCheck shows that the check above refuses what the
// binary would: a flag it does not have, a variable it does not read, a
// value it rejects.
func TestComposeCommandCheck(t *testing.T) {
	serve := func(args ...string) commandLine { return append(commandLine{"serve"}, args...) }
	for _, tc := range []struct {
		name    string
		svc     composeService
		wantErr string // empty: accepted
	}{
		{"valid", composeService{Command: serve("--roles", "tally", "--replicas", "3", "--http=0.0.0.0:8080")}, ""},
		{"single dash", composeService{Command: serve("-roles", "tally")}, ""},
		{"valid env", composeService{Command: serve(), Environment: environment{"VOTECAST_NATS_PASSWORD": "p"}}, ""},
		{"unknown flag", composeService{Command: serve("--roles", "tally", "--bogus", "1")}, `no flag "--bogus"`},
		{"unknown flag with value", composeService{Command: serve("--bogus=1")}, `no flag "--bogus=1"`},
		{"flag of another subcommand", composeService{Command: commandLine{"migrate", "--roles", "tally"}}, `migrate has no flag "--roles"`},
		{"unknown subcommand", composeService{Command: commandLine{"tally"}}, `no subcommand "tally"`},
		{"no command", composeService{}, "has no command"},
		{"unknown variable", composeService{Command: serve(), Environment: environment{"VOTECAST_BOGUS": "1"}}, "no variable VOTECAST_BOGUS"},
		{"other variable", composeService{Command: serve(), Environment: environment{"NATS_URL": "x"}}, "no variable NATS_URL"},
		{"bad value", composeService{Command: serve("--replicas", "three")}, "invalid value"},
		{"bad role", composeService{Command: serve("--roles", "counting")}, "counting"},
		{"bad env value", composeService{Command: serve(), Environment: environment{"VOTECAST_REPLICAS": "three"}}, "VOTECAST_REPLICAS"},
		{"positional argument", composeService{Command: serve("--roles", "tally", "extra")}, "takes no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseVotecast(t, "svc", tc.svc, nil)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("accepted, want an error with %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q, want one with %q", err, tc.wantErr)
			}
		})
	}
}

// TestComposeTopology checks the promises the file makes beyond flag
// names: each serve node has a volume of its own for its data directory
// (its node id lives there), listens on all interfaces on the port it
// publishes, reaches every NATS node, and is scraped by Prometheus; the
// tally nodes wait for the schema, which waits for a healthy ScyllaDB.
func TestComposeTopology(t *testing.T) {
	f := loadCompose(t, filepath.Join(repoRoot, "docker-compose.yml"))
	image := imageEnv(t, filepath.Join(repoRoot, "Dockerfile"))
	natsHosts := natsServices(f)
	if len(natsHosts) != 3 {
		t.Fatalf("NATS services %v, want three", natsHosts)
	}
	dataOwner := map[string]string{} // volume -> service
	var serveTargets []string
	for name, svc := range f.Services {
		if svc.Build == nil {
			continue
		}
		p, err := parseVotecast(t, name, svc, image)
		if err != nil {
			t.Fatal(err)
		}
		if p.sub == "migrate" {
			if svc.DependsOn["scylla"] != "service_healthy" {
				t.Errorf("migrate depends on scylla %q, want service_healthy", svc.DependsOn["scylla"])
			}
			continue
		}
		if p.sub != "serve" {
			continue
		}
		data := p.get("data")
		src, named, ok := mountOf(svc, data)
		switch {
		case !ok:
			t.Errorf("service %s: no volume at its data directory %s: its node id would not survive a restart", name, data)
		case !named:
			t.Errorf("service %s: data directory %s is the host path %s, want a named volume", name, data, src)
		case dataOwner[src] != "":
			t.Errorf("services %s and %s share the data volume %s: every node needs its own", dataOwner[src], name, src)
		default:
			dataOwner[src] = name
			if _, declared := f.Volumes[src]; !declared {
				t.Errorf("service %s: volume %s is not declared under volumes:", name, src)
			}
		}

		host, port, err := net.SplitHostPort(p.get("http"))
		if err != nil {
			t.Errorf("service %s: --http %q: %v", name, p.get("http"), err)
			continue
		}
		if host != "0.0.0.0" {
			t.Errorf("service %s: --http %s listens on %q, want 0.0.0.0 (reachable from outside the container)", name, p.get("http"), host)
		}
		serveTargets = append(serveTargets, name+":"+port)
		for _, m := range svc.Ports {
			parts := strings.Split(m, ":")
			if cport := parts[len(parts)-1]; cport != port {
				t.Errorf("service %s publishes container port %s, but serves on %s", name, cport, port)
			}
		}

		var dialed []string
		for _, u := range splitList(p.get("nats")) {
			h, _, err := net.SplitHostPort(strings.TrimPrefix(u, "nats://"))
			if err != nil {
				t.Errorf("service %s: --nats %q: %v", name, u, err)
			}
			dialed = append(dialed, h)
		}
		slices.Sort(dialed)
		if !slices.Equal(dialed, natsHosts) {
			t.Errorf("service %s dials NATS %v, want all of %v", name, dialed, natsHosts)
		}
		if p.get("replicas") != "3" {
			t.Errorf("service %s: --replicas %s, want 3 on a three-node cluster", name, p.get("replicas"))
		}
		for _, n := range natsHosts {
			if svc.DependsOn[n] != "service_healthy" {
				t.Errorf("service %s depends on %s %q, want service_healthy", name, n, svc.DependsOn[n])
			}
		}
		if scylla := p.get("scylla"); scylla != "" {
			for _, h := range splitList(scylla) {
				sh, _, err := net.SplitHostPort(h)
				if _, ok := f.Services[sh]; err != nil || !ok {
					t.Errorf("service %s: --scylla %s is not a host:port of a service here", name, h)
				}
			}
			if svc.DependsOn["migrate"] != "service_completed_successfully" {
				t.Errorf("service %s uses ScyllaDB but depends on migrate %q, want service_completed_successfully", name, svc.DependsOn["migrate"])
			}
		}
	}
	if scylla, ok := f.Services["scylla"]; !ok || scylla.Healthcheck == nil {
		t.Errorf("no scylla service with a healthcheck: migrate would start before it takes connections")
	}

	slices.Sort(serveTargets)
	scraped := prometheusTargets(t, filepath.Join(repoRoot, "deploy/prometheus/prometheus.yml"))
	scraped = slices.DeleteFunc(scraped, func(s string) bool { return strings.HasPrefix(s, "localhost:") })
	slices.Sort(scraped)
	if !slices.Equal(scraped, serveTargets) {
		t.Errorf("Prometheus scrapes %v, the votecast nodes serve /metrics at %v", scraped, serveTargets)
	}
}

func natsServices(f composeFile) []string {
	var names []string
	for name, svc := range f.Services {
		if strings.HasPrefix(svc.Image, "nats:") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func prometheusTargets(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read Prometheus config: %v", err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("%s: metrics_path %s, votecast serves /metrics", path, sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	return targets
}

// TestComposeNATS parses each NATS node's command and config file with
// nats-server's own flag and config parser: one JetStream cluster of
// three, fsync always, each node's store on its own volume, every route
// to the three nodes carrying the cluster's credentials, and clients
// required to present the pair the votecast services are given.
func TestComposeNATS(t *testing.T) {
	f := loadCompose(t, filepath.Join(repoRoot, "docker-compose.yml"))
	hosts := natsServices(f)
	if len(hosts) != 3 {
		t.Fatalf("NATS services %v, want three", hosts)
	}
	clusterName, names, stores := "", map[string]bool{}, map[string]bool{}
	var user, password string
	for _, name := range hosts {
		svc := f.Services[name]
		tag := strings.TrimPrefix(svc.Image, "nats:")
		if tag != natsserver.VERSION && !strings.HasPrefix(tag, natsserver.VERSION+"-") {
			t.Errorf("service %s runs nats:%s, want nats-server %s, the version this test parses its config with (go.mod)", name, tag, natsserver.VERSION)
		}
		// The config file is where the service mounts it from.
		args := slices.Clone([]string(svc.Command))
		for i, a := range args {
			if (a == "-c" || a == "--config" || a == "-config") && i+1 < len(args) {
				src, _, ok := mountOf(svc, args[i+1])
				if !ok {
					t.Fatalf("service %s: config %s is not mounted", name, args[i+1])
				}
				args[i+1] = filepath.Join(repoRoot, src)
			}
		}
		for k, v := range svc.Environment {
			t.Setenv(k, v)
		}
		fs := flag.NewFlagSet("nats-server", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		noop := func() {}
		opts, err := natsserver.ConfigureOptions(fs, args, noop, noop, noop)
		if err != nil {
			t.Fatalf("service %s: nats-server %v: %v", name, svc.Command, err)
		}
		if !opts.JetStream || !opts.SyncAlways {
			t.Errorf("service %s: jetstream %v, sync always %v; want both", name, opts.JetStream, opts.SyncAlways)
		}
		if src, named, ok := mountOf(svc, opts.StoreDir); !ok || !named || stores[src] {
			t.Errorf("service %s: JetStream store %s is not on a named volume of its own", name, opts.StoreDir)
		} else {
			stores[src] = true
		}
		if names[opts.ServerName] || opts.ServerName == "" {
			t.Errorf("service %s: server name %q is empty or another node's", name, opts.ServerName)
		}
		names[opts.ServerName] = true
		if clusterName == "" {
			clusterName = opts.Cluster.Name
		}
		if opts.Cluster.Name == "" || opts.Cluster.Name != clusterName || opts.Cluster.Port == 0 {
			t.Errorf("service %s: cluster %q port %d, want one named cluster", name, opts.Cluster.Name, opts.Cluster.Port)
		}
		if opts.Username == "" || opts.Password == "" || opts.Cluster.Username != opts.Username || opts.Cluster.Password != opts.Password {
			t.Errorf("service %s: clients and routes must both require the one user and password", name)
		}
		if user == "" {
			user, password = opts.Username, opts.Password
		} else if opts.Username != user || opts.Password != password {
			t.Errorf("service %s has other credentials than %s", name, hosts[0])
		}
		var routed []string
		for _, r := range opts.Routes {
			if r == nil {
				t.Errorf("service %s: a route that is not a URL", name)
				continue
			}
			pass, _ := r.User.Password()
			if r.User.Username() != opts.Cluster.Username || pass != opts.Cluster.Password {
				t.Errorf("service %s: route to %s lacks the cluster's credentials: nats-server adds none to a configured route", name, r.Host)
			}
			if r.Port() != fmt.Sprint(opts.Cluster.Port) {
				t.Errorf("service %s: route to %s, but the cluster port is %d", name, r.Host, opts.Cluster.Port)
			}
			routed = append(routed, r.Hostname())
		}
		slices.Sort(routed)
		if !slices.Equal(routed, hosts) {
			t.Errorf("service %s routes to %v, want %v", name, routed, hosts)
		}
	}
	for name, svc := range f.Services {
		if svc.Build == nil {
			continue
		}
		if svc.Command[0] != "serve" {
			continue
		}
		if svc.Environment["VOTECAST_NATS_USER"] != user || svc.Environment["VOTECAST_NATS_PASSWORD"] != password {
			t.Errorf("service %s: VOTECAST_NATS_USER/PASSWORD are not the NATS nodes' user and password", name)
		}
	}
}
