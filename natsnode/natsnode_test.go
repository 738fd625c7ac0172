package natsnode

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

func start(t *testing.T, opts Options) *Node {
	t.Helper()
	n, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return n
}

// usable checks a connection reaches JetStream.
func usable(t *testing.T, nc *nats.Conn) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(context.Background()); err != nil {
		t.Fatalf("jetstream through the connection: %v", err)
	}
}

func TestNoListenerUnlessAsked(t *testing.T) {
	n := start(t, Options{Dir: t.TempDir()})
	if u := n.ClientURL(); u != "" {
		t.Errorf("ClientURL = %q, want none", u)
	}
	if a := n.srv.Addr(); a != nil {
		t.Errorf("the server accepts on %v", a)
	}
	nc, err := n.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	usable(t, nc)
}

func TestListenerNeedsCredentials(t *testing.T) {
	_, err := Start(Options{Dir: t.TempDir(), Listen: "127.0.0.1:-1"})
	if err == nil {
		t.Fatal("a listener without credentials started")
	}
}

func TestListenerAdmitsOnlyTheGeneratedNkey(t *testing.T) {
	dir := t.TempDir()
	seedFile := filepath.Join(dir, "nats.nkey")
	n := start(t, Options{Dir: filepath.Join(dir, "nats"), Listen: "127.0.0.1:-1", CredentialsFile: seedFile})
	if n.ClientURL() == "" {
		t.Fatal("no listener")
	}
	otherFile := filepath.Join(dir, "other.nkey")
	if _, err := LoadOrCreateCredentials(otherFile); err != nil {
		t.Fatal(err)
	}
	fromFile := func(path string) nats.Option {
		o, err := nats.NkeyOptionFromSeed(path)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	tests := []struct {
		name string
		opts []nats.Option
		ok   bool
	}{
		{"anonymous", nil, false},
		{"user and password", []nats.Option{nats.UserInfo("votecast", "guess")}, false},
		{"token", []nats.Option{nats.Token("guess")}, false},
		{"another nkey", []nats.Option{fromFile(otherFile)}, false},
		{"the generated nkey", []nats.Option{fromFile(seedFile)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := nats.Connect(n.ClientURL(), append(tc.opts, nats.MaxReconnects(0))...)
			if !tc.ok {
				if err == nil {
					nc.Close()
					t.Fatal("connected")
				}
				if !errors.Is(err, nats.ErrAuthorization) {
					t.Fatalf("refused with %v, want an authorization violation", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			usable(t, nc)
		})
	}
	nc, err := n.Connect("in-process")
	if err != nil {
		t.Fatalf("in-process connection with the node's own credentials: %v", err)
	}
	nc.Close()
}

func TestCredentialsAre0600AndKeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: filepath.Join(dir, "nats"), Listen: "127.0.0.1:-1", CredentialsFile: filepath.Join(dir, "nats.nkey")}
	n, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	first := n.Credentials().PublicKey()
	n.Shutdown(context.Background())
	fi, err := os.Stat(opts.CredentialsFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %04o, want 0600", fi.Mode().Perm())
	}
	n = start(t, opts)
	if got := n.Credentials().PublicKey(); got != first {
		t.Errorf("restart changed the credentials: %s, was %s", got, first)
	}
	o, err := nats.NkeyOptionFromSeed(opts.CredentialsFile)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(n.ClientURL(), o, nats.MaxReconnects(0))
	if err != nil {
		t.Fatalf("the kept seed after a restart: %v", err)
	}
	nc.Close()
}

func TestCredentialsReadableByOthersAreRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nats.nkey")
	kp, _ := nkeys.CreateUser()
	seed, _ := kp.Seed()
	if err := os.WriteFile(path, seed, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}
	if _, err := Start(Options{Dir: filepath.Join(dir, "nats"), Listen: "127.0.0.1:-1", CredentialsFile: path}); err == nil {
		t.Fatal("started with a world-readable seed")
	}
}

func TestOneServerPerDirectory(t *testing.T) {
	dir := t.TempDir()
	n, err := Start(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(Options{Dir: dir}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second server on the directory: %v, want ErrInUse", err)
	}
	n.Shutdown(context.Background())
	start(t, Options{Dir: dir}) // free again once the first has stopped
}
