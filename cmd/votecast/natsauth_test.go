package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/schema"
)

func TestServeHasNoNATSListenerByDefault(t *testing.T) {
	if def := serveCommand().FlagSet.Lookup("nats-listen").DefValue; def != "" {
		t.Fatalf("--nats-listen defaults to %q, want no listener", def)
	}
	dir := t.TempDir()
	s := startServer(t, dir, func(c *serveConfig) { c.nats.listen = "" })
	if s.natsURL != "" {
		t.Errorf("serve reports a NATS URL %q", s.natsURL)
	}
	if _, err := os.Stat(filepath.Join(dir, "nats.url")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("nats.url left for tools: %v", err)
	}
	// Every role still talks through the in-process connection.
	p := s.openPoll(2)
	s.dial(p.ID, "alice").mustVote("v1", 1, 1, schema.StatusAccepted)
	s.waitTotals(p.ID, []int64{0, 1})

	// recount has nothing to connect to and must not open the files a
	// running server holds: it says what to do, at once.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := recount(ctx, recountConfig{nats: natsConfig{dir: dir}, poll: p.ID, wait: time.Second}, &out)
	if err == nil || !strings.Contains(err.Error(), "has no NATS listener") || !strings.Contains(err.Error(), "--nats-listen") {
		t.Fatalf("recount beside a server without a listener: %v\n%s", err, out.String())
	}
	if ctx.Err() != nil {
		t.Fatal("recount waited for its deadline")
	}
}

func seedOption(t *testing.T, path string) nats.Option {
	t.Helper()
	o, err := nats.NkeyOptionFromSeed(path)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestNATSListenerNeedsTheGeneratedCredentials(t *testing.T) {
	dir := t.TempDir()
	seedFile := filepath.Join(dir, "nats.nkey")
	s := startServer(t, dir)
	if s.natsURL == "" {
		t.Fatal("no listener with --nats-listen")
	}
	b, err := os.ReadFile(filepath.Join(dir, "nats.url"))
	if err != nil || strings.TrimSpace(string(b)) != s.natsURL {
		t.Fatalf("nats.url = %q (%v), want %s", b, err, s.natsURL)
	}
	tests := []struct {
		name string
		opts []nats.Option
		ok   bool
	}{
		{"no credentials", nil, false},
		{"a guessed token", []nats.Option{nats.Token("votecast")}, false},
		{"the generated nkey", []nats.Option{seedOption(t, seedFile)}, true},
	}
	for _, tc := range tests {
		nc, err := nats.Connect(s.natsURL, append(tc.opts, nats.MaxReconnects(0))...)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.ok && !errors.Is(err, nats.ErrAuthorization):
			t.Errorf("%s: %v, want an authorization violation", tc.name, err)
		}
		if nc != nil {
			nc.Close()
		}
	}

	// A tool given the URL alone signs with the data directory's nkey
	// (recountAgrees); from another data directory it is refused, and
	// says so at once.
	p := s.openPoll(2)
	s.dial(p.ID, "alice").mustVote("v1", 0, 1, schema.StatusAccepted)
	s.recountAgrees(p.ID, []int64{1, 0})
	err = recount(context.Background(), recountConfig{nats: natsConfig{url: s.natsURL, dir: t.TempDir()}, poll: p.ID, wait: time.Second}, io.Discard)
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("recount without the credentials: %v, want an authorization violation", err)
	}
	err = recount(context.Background(), recountConfig{nats: natsConfig{url: s.natsURL, dir: t.TempDir(), nkey: seedFile}, poll: p.ID, wait: 20 * time.Second}, io.Discard)
	if err != nil {
		t.Errorf("recount with --nats-nkey: %v", err)
	}

	// The credentials are the owner's alone and survive a restart.
	fi, err := os.Stat(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", seedFile, fi.Mode().Perm())
	}
	seed, _ := os.ReadFile(seedFile)
	s.shutdown()
	s = startServer(t, dir)
	if again, _ := os.ReadFile(seedFile); !bytes.Equal(again, seed) {
		t.Error("a restart made new credentials")
	}
	nc, err := nats.Connect(s.natsURL, seedOption(t, seedFile), nats.MaxReconnects(0))
	if err != nil {
		t.Fatalf("the kept nkey after a restart: %v", err)
	}
	nc.Close()
	s.recountAgrees(p.ID, []int64{1, 0})
}

// A client that may publish (the credentials leaked, or a bug) still
// cannot move the totals with a snapshot no tally made. The forgery goes
// to the shard the tally already has loaded: a tally that loads a poll
// shard after it trusts it (see the report of this change), which is the
// tally's to fix, not broadcast's.
func TestForgedSnapshotDoesNotMoveTheTotals(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	p := s.openPoll(3)
	s.dial(p.ID, "alice").mustVote("v1", 1, 1, schema.StatusAccepted)
	s.waitTotals(p.ID, []int64{0, 1, 0})
	shard := schema.ShardOf("alice", p.Shards)
	nc, err := nats.Connect(s.natsURL, seedOption(t, filepath.Join(dir, "nats.nkey")), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	forged := schema.Snapshot{Poll: p.ID, Shard: shard, Seq: 1 << 62, Counts: []int64{1_000_000, 0, 0}}
	if err := nc.Publish(schema.SnapshotSubject(p.ID, shard), schema.EncodeSnapshot(forged)); err != nil {
		t.Fatal(err)
	}
	await.For(t, 10*time.Second, func() string {
		if n := s.metric("votecast_broadcast_snapshots_ignored_total"); n != 1 {
			return fmt.Sprintf("%v forged snapshots ignored, want 1", n)
		}
		return ""
	})
	s.waitTotals(p.ID, []int64{0, 1, 0})
	// The tally's next snapshot of that shard still counts.
	user := ""
	for i := 0; user == ""; i++ {
		if u := fmt.Sprintf("voter-%d", i); schema.ShardOf(u, p.Shards) == shard {
			user = u
		}
	}
	s.dial(p.ID, user).mustVote("v1", 2, 1, schema.StatusAccepted)
	s.waitTotals(p.ID, []int64{0, 1, 1})
}

// metric reads one unlabelled sample from /metrics.
func (s *server) metric(name string) float64 {
	s.t.Helper()
	resp, err := http.Get(s.url("/metrics"))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// syncBuffer collects a child's stdout and stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// TestServeProcess is `votecast` itself when TestNATSSecretNeverShown runs
// this test binary as its child; otherwise it does nothing.
func TestServeProcess(t *testing.T) {
	if os.Getenv("VOTECAST_SERVE_PROCESS") != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	err := run(ctx, flag.Args())
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "votecast:", err)
		os.Exit(1)
	}
	os.Exit(0) // no test summary, no leak check of a whole serve
}

// The nkey seed appears in no printed line and no log line of a serve
// start, of the server refusing a client, or of a tool connecting.
func TestNATSSecretNeverShown(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeProcess$", "--",
		"serve", "--data", dir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1", "--log-level", "debug", "--shards", "2")
	cmd.Env = append(os.Environ(), "VOTECAST_SERVE_PROCESS=1", "VOTECAST_ADMIN_TOKEN="+testToken, "VOTECAST_VIEWER_SECRET="+testSecret)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	await.For(t, 60*time.Second, func() string {
		if !strings.Contains(out.String(), "embedded NATS: nats://") {
			return "serve announced no NATS URL:\n" + out.String()
		}
		return ""
	})
	b, err := os.ReadFile(filepath.Join(dir, "nats.url"))
	if err != nil {
		t.Fatal(err)
	}
	natsURL := strings.TrimSpace(string(b))
	seed, err := os.ReadFile(filepath.Join(dir, "nats.nkey"))
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(string(seed))
	if !strings.HasPrefix(secret, "SU") {
		t.Fatalf("nats.nkey holds no user seed")
	}
	if strings.Contains(natsURL, secret) {
		t.Fatal("nats.url holds the secret")
	}

	if nc, err := nats.Connect(natsURL, nats.MaxReconnects(0)); err == nil { // the server logs the refusal
		nc.Close()
		t.Fatal("connected without credentials")
	}
	err = recount(context.Background(), recountConfig{nats: natsConfig{dir: dir}, poll: schema.NewPollID(), wait: time.Second}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("recount of an unknown poll through the running server: %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Error("recount's error holds the secret")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve exited with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop within 60s")
	}
	shown := out.String()
	for _, want := range []string{"embedded NATS: " + natsURL, "votecast serving", "authentication error", "votecast stopped"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the output lacks %q, so it was not all captured:\n%s", want, shown)
		}
	}
	if strings.Contains(shown, secret) {
		t.Errorf("the nkey seed was shown:\n%s", shown)
	}
}

// Credentials and TLS for an external NATS: each kind reaches a server
// that wants it, and no error message shows a password or token.
func TestExternalNATSCredentials(t *testing.T) {
	pki := newTestPKI(t)
	kp, _ := nkeys.CreateUser()
	nkeyPub, _ := kp.PublicKey()
	nkeySeed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, nkeySeed, 0o600); err != nil {
		t.Fatal(err)
	}
	const password, token = "pw-s3cret-0123", "tok-s3cret-4567"
	users := func(o *natsserver.Options) { o.Users = []*natsserver.User{{Username: "alice", Password: password}} }
	withToken := func(o *natsserver.Options) { o.Authorization = token }
	withNkey := func(o *natsserver.Options) { o.Nkeys = []*natsserver.NkeyUser{{Nkey: nkeyPub}} }
	withTLS := func(verify bool) func(*natsserver.Options) {
		return func(o *natsserver.Options) {
			tc, err := natsserver.GenTLSConfig(&natsserver.TLSConfigOpts{CertFile: pki.serverCert, KeyFile: pki.serverKey, CaFile: pki.ca, Verify: verify})
			if err != nil {
				t.Fatal(err)
			}
			o.TLS, o.TLSConfig, o.TLSVerify = true, tc, verify
		}
	}
	tests := []struct {
		name   string
		server func(*natsserver.Options)
		client func(c *natsConfig, url string)
		ok     bool
	}{
		{"user and password", users, func(c *natsConfig, _ string) { c.user, c.password = "alice", password }, true},
		{"a wrong password", users, func(c *natsConfig, _ string) { c.user, c.password = "alice", "nope" }, false},
		{"password in the URL", users, func(c *natsConfig, u string) { c.url = strings.Replace(u, "://", "://alice:"+password+"@", 1) }, true},
		{"a wrong password in the URL", users, func(c *natsConfig, u string) { c.url = strings.Replace(u, "://", "://alice:"+password+"x@", 1) }, false},
		{"token", withToken, func(c *natsConfig, _ string) { c.token = token }, true},
		{"a wrong token", withToken, func(c *natsConfig, _ string) { c.token = token + "x" }, false},
		{"a wrong token in the URL", withToken, func(c *natsConfig, u string) { c.url = strings.Replace(u, "://", "://"+token+"x@", 1) }, false},
		{"nkey seed file", withNkey, func(c *natsConfig, _ string) { c.nkey = seedFile }, true},
		{"no nkey", withNkey, func(*natsConfig, string) {}, false},
		{"TLS with the CA", withTLS(false), func(c *natsConfig, _ string) { c.ca = pki.ca }, true},
		{"TLS without the CA", withTLS(false), func(*natsConfig, string) {}, false},
		{"TLS with a client certificate", withTLS(true), func(c *natsConfig, _ string) { c.ca, c.cert, c.key = pki.ca, pki.clientCert, pki.clientKey }, true},
		{"TLS without the client certificate", withTLS(true), func(c *natsConfig, _ string) { c.ca = pki.ca }, false},
		{"a URL that does not parse", users, func(c *natsConfig, u string) {
			c.url = strings.Replace(u, "://", "://alice:"+password+"@", 1) + "/%zz x"
		}, false},
		{"nothing listening", users, func(c *natsConfig, _ string) { c.url = "nats://alice:" + password + "@127.0.0.1:1" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := natsConfig{url: startNATS(t, tc.server), dir: t.TempDir()}
			tc.client(&c, c.url)
			link, err := c.dial("test", nil)
			if err == nil {
				link.close(context.Background())
			}
			if tc.ok != (err == nil) {
				t.Fatalf("dial: %v, want ok %v", err, tc.ok)
			}
			if err != nil {
				for _, secret := range []string{password, token} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("the error shows a secret: %v", err)
					}
				}
			}
		})
	}
}

func TestNATSFlagConflicts(t *testing.T) {
	tests := []struct {
		name string
		c    natsConfig
		want string
	}{
		{"two methods", natsConfig{url: "nats://h:4222", user: "a", token: "t"}, "give one of"},
		{"password without user", natsConfig{url: "nats://h:4222", password: "p"}, "needs --nats-user"},
		{"cert without key", natsConfig{url: "nats://h:4222", cert: "c.pem"}, "go together"},
		{"missing nkey file", natsConfig{url: "nats://h:4222", nkey: "/nonexistent/seed"}, "--nats-nkey"},
		{"missing creds file", natsConfig{url: "nats://h:4222", creds: "/nonexistent/x.creds"}, "--nats-creds"},
		{"credentials for the embedded server", natsConfig{dir: "unused", token: "t"}, "for an external server"},
		{"a listener with an external server", natsConfig{url: "nats://h:4222", listen: "127.0.0.1:4222"}, "--nats-listen"},
	}
	for _, tc := range tests {
		_, err := tc.c.dial("test", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}

// startNATS runs a plain nats-server (not natsnode: this one plays an
// external server with its own auth and TLS) and returns its URL.
func startNATS(t *testing.T, tweak func(*natsserver.Options)) string {
	t.Helper()
	o := &natsserver.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true}
	tweak(o)
	s, err := natsserver.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL()
}

type testPKI struct{ ca, serverCert, serverKey, clientCert, clientKey string }

// newTestPKI writes a CA and a server (127.0.0.1) and a client
// certificate it signed.
func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "votecast test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (certPath, keyPath string) {
		k := newKey()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".pem", "CERTIFICATE", der), write(name+"-key.pem", "EC PRIVATE KEY", kb)
	}
	p := testPKI{ca: write("ca.pem", "CERTIFICATE", caDER)}
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}
