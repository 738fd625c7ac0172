package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/internal/parts"
	"github.com/votecast/votecast/natsnode"
)

// natsConfig says where NATS is and how to prove who we are: a URL with
// credentials, or an embedded server on the data directory.
type natsConfig struct {
	url    string
	dir    string
	listen string
	sync   string
	// For an external server; the data directory's own server is
	// reached with its generated nkey instead (localSeed).
	user, password, token string
	nkey, creds           string // files
	ca, cert, key         string // TLS files
}

// natsLink is a connection and, in embedded mode, the server behind it.
type natsLink struct {
	node *natsnode.Node
	nc   *nats.Conn
	js   jetstream.JetStream
}

// flags registers every NATS flag of a subcommand; serving adds those of
// the embedded server. Secrets are best given through the environment
// (VOTECAST_NATS_PASSWORD, VOTECAST_NATS_TOKEN): flags show in ps.
func (c *natsConfig) flags(fs *flag.FlagSet, serving bool) {
	if serving {
		fs.StringVar(&c.url, "nats", "", "external NATS URL (env VOTECAST_NATS); empty runs an embedded server")
		fs.StringVar(&c.listen, "nats-listen", "", "TCP client address of the embedded NATS server, e.g. 127.0.0.1:4222 (port -1: a free one); "+
			"clients must sign with the nkey serve generates in <data>/nats.nkey. Empty: no listener, only this process reaches it")
	} else {
		fs.StringVar(&c.url, "nats", "", "NATS URL (env VOTECAST_NATS); empty: the running embedded server of --data, or its files")
	}
	fs.StringVar(&c.user, "nats-user", "", "user name on an external NATS (env VOTECAST_NATS_USER)")
	fs.StringVar(&c.password, "nats-password", "", "password of --nats-user (env VOTECAST_NATS_PASSWORD)")
	fs.StringVar(&c.token, "nats-token", "", "token for an external NATS (env VOTECAST_NATS_TOKEN)")
	fs.StringVar(&c.nkey, "nats-nkey", "", "nkey seed file for an external NATS (or another data directory's nats.nkey)")
	fs.StringVar(&c.creds, "nats-creds", "", "user credentials file (JWT and seed, .creds) for an external NATS")
	fs.StringVar(&c.ca, "nats-ca", "", "CA certificate file that signed the NATS server's TLS certificate")
	fs.StringVar(&c.cert, "nats-cert", "", "TLS client certificate file for NATS (with --nats-key)")
	fs.StringVar(&c.key, "nats-key", "", "TLS client key file for NATS (with --nats-cert)")
}

func (c natsConfig) urlFile() string { return filepath.Join(c.dir, "nats.url") }

// localSeed is the nkey of the data directory's embedded server.
func (c natsConfig) localSeed() string { return filepath.Join(c.dir, "nats.nkey") }

// local reports whether url is the server this data directory runs, so
// its generated credentials apply.
func (c natsConfig) local() bool {
	b, err := os.ReadFile(c.urlFile())
	return err == nil && c.url != "" && strings.TrimSpace(string(b)) == c.url
}

func (c natsConfig) clientFlagsSet() bool {
	return c.user != "" || c.password != "" || c.token != "" || c.nkey != "" || c.creds != "" || c.ca != "" || c.cert != "" || c.key != ""
}

// options turns the credential and TLS settings into nats options: those
// of the flags, or, when none is given and url is this data directory's
// server, its generated nkey.
func (c natsConfig) options() ([]nats.Option, error) {
	if _, err := c.urls(); err != nil {
		return nil, err
	}
	methods := 0
	for _, v := range []string{c.user, c.token, c.nkey, c.creds} {
		if v != "" {
			methods++
		}
	}
	switch {
	case methods > 1:
		return nil, errors.New("give one of --nats-user, --nats-token, --nats-nkey, --nats-creds")
	case c.password != "" && c.user == "":
		return nil, errors.New("--nats-password needs --nats-user")
	case (c.cert == "") != (c.key == ""):
		return nil, errors.New("--nats-cert and --nats-key go together")
	}
	var opts []nats.Option
	switch {
	case c.user != "":
		opts = append(opts, nats.UserInfo(c.user, c.password))
	case c.token != "":
		opts = append(opts, nats.Token(c.token))
	case c.nkey != "":
		o, err := nats.NkeyOptionFromSeed(c.nkey)
		if err != nil {
			return nil, fmt.Errorf("--nats-nkey: %w", err)
		}
		opts = append(opts, o)
	case c.creds != "":
		if _, err := os.Stat(c.creds); err != nil { // nats.go reads it only when connecting
			return nil, fmt.Errorf("--nats-creds: %w", err)
		}
		opts = append(opts, nats.UserCredentials(c.creds))
	case c.local():
		cr, err := natsnode.LoadCredentials(c.localSeed())
		if err != nil {
			return nil, err
		}
		opts = append(opts, cr.Option())
	}
	if c.ca != "" {
		opts = append(opts, nats.RootCAs(c.ca))
	}
	if c.cert != "" {
		opts = append(opts, nats.ClientCert(c.cert, c.key))
	}
	return opts, nil
}

// urls parses the --nats list the way nats.go does (a missing scheme is
// nats://). A parse error names the position, not the URL, which may hold
// a password.
func (c natsConfig) urls() ([]*url.URL, error) {
	var out []*url.URL
	for i, s := range strings.Split(c.url, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, fmt.Errorf("--nats: URL %d of the list is not a URL (%s)", i+1, c.scrubText(err.Error()))
		}
		out = append(out, u)
	}
	return out, nil
}

// shownURL is url with any user info replaced, for messages.
func (c natsConfig) shownURL() string {
	us, err := c.urls()
	if err != nil {
		return "(the --nats URL)"
	}
	shown := make([]string, len(us))
	for i, u := range us {
		if u.User != nil {
			u.User = url.User("redacted")
		}
		shown[i] = u.String()
	}
	return strings.Join(shown, ",")
}

// secrets are the values no message may show: the password, the token,
// and those inside the URLs (a user name alone there is a token), as
// written and unescaped.
func (c natsConfig) secrets() []string {
	out := []string{c.password, c.token}
	for _, s := range strings.Split(c.url, ",") {
		info := userinfo(s)
		if info == "" {
			continue
		}
		secret := info
		if _, pass, ok := strings.Cut(info, ":"); ok {
			secret = pass
		}
		out = append(out, secret)
		if u, err := url.PathUnescape(secret); err == nil {
			out = append(out, u)
		}
	}
	return out
}

// userinfo is what precedes the host of a URL as written, even one that
// does not parse.
func userinfo(s string) string {
	s = strings.TrimSpace(s)
	if _, rest, ok := strings.Cut(s, "://"); ok {
		s = rest
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		return s[:i]
	}
	return ""
}

func (c natsConfig) scrubText(s string) string {
	for _, secret := range c.secrets() {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "redacted")
		}
	}
	return s
}

// scrub hides the secrets in err's message (nats.go and net/url quote the
// URLs they fail on), keeping err in the chain for errors.Is.
func (c natsConfig) scrub(err error) error {
	if msg := c.scrubText(err.Error()); msg != err.Error() {
		return scrubbedError{msg: msg, err: err}
	}
	return err
}

type scrubbedError struct {
	msg string
	err error
}

func (e scrubbedError) Error() string { return e.msg }
func (e scrubbedError) Unwrap() error { return e.err }

// dial connects to NATS, starting the embedded server when no URL is set.
func (c natsConfig) dial(name string, log *slog.Logger, jsOpts ...jetstream.JetStreamOpt) (*natsLink, error) {
	l := &natsLink{}
	var err error
	if c.url != "" {
		if c.listen != "" {
			return nil, errors.New("--nats-listen is for the embedded server: drop it, or --nats")
		}
		opts, err := c.options()
		if err != nil {
			return nil, err
		}
		parts.Do(parts.NATSClient, func() {
			l.nc, err = nats.Connect(c.url, append(opts, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))...)
		})
		if err != nil {
			hint := ""
			if errors.Is(err, nats.ErrAuthorization) && !c.clientFlagsSet() {
				if c.local() {
					hint = " (signed with " + c.localSeed() + ")"
				} else if !strings.Contains(c.url, "@") {
					hint = " (no credentials given: --nats-nkey <data of that server>/nats.nkey, or --nats-user, --nats-token, --nats-creds)"
				}
			}
			return nil, c.scrub(fmt.Errorf("connect to nats at %s%s: %w", c.shownURL(), hint, err))
		}
	} else {
		if c.clientFlagsSet() {
			return nil, fmt.Errorf("the --nats-* credential and TLS flags are for an external server (--nats); clients of the embedded one sign with %s", c.localSeed())
		}
		l.node, err = natsnode.Start(natsnode.Options{
			Dir: filepath.Join(c.dir, "nats"), Listen: c.listen, CredentialsFile: c.localSeed(), Sync: c.sync, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		if l.nc, err = l.node.Connect(name); err != nil {
			l.node.Shutdown(context.Background())
			return nil, err
		}
		// Tools (recount, the nats CLI) find a listening server here; the
		// URL of an earlier run would only send them to a closed port.
		if u := l.node.ClientURL(); u != "" {
			_ = os.WriteFile(c.urlFile(), []byte(u+"\n"), 0o600)
		} else {
			_ = os.Remove(c.urlFile())
		}
	}
	if l.js, err = jetstream.New(l.nc, jsOpts...); err != nil {
		l.close(context.Background())
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return l, nil
}

// dialTool connects a tool (recount) to the data directory's running
// server when no URL is set, or else starts the embedded server on its
// files; a running server it cannot reach is a message saying what to do.
func (c natsConfig) dialTool(tool string, log *slog.Logger) (*natsLink, error) {
	if c.url == "" {
		c.url = c.runningURL()
	}
	l, err := c.dial("votecast-"+tool, log)
	if errors.Is(err, natsnode.ErrInUse) {
		return nil, fmt.Errorf("the server running on %s has no NATS listener: start serve with --nats-listen 127.0.0.1:4222, or stop it so %s can read its files", c.dir, tool)
	}
	return l, err
}

// runningURL returns the URL the data directory's server left, unless
// nothing answers there any more (a server that has stopped).
func (c natsConfig) runningURL() string {
	b, err := os.ReadFile(c.urlFile())
	if err != nil {
		return ""
	}
	c.url = strings.TrimSpace(string(b))
	if c.url == "" {
		return ""
	}
	opts, err := c.options()
	if err != nil {
		return c.url // dial says what is wrong
	}
	nc, err := nats.Connect(c.url, append(opts, nats.Timeout(time.Second), nats.MaxReconnects(0))...)
	if errors.Is(err, nats.ErrNoServers) {
		return ""
	}
	if err == nil {
		nc.Close()
	}
	return c.url
}

func (l *natsLink) close(ctx context.Context) {
	if l.nc != nil {
		_ = l.nc.FlushWithContext(ctx) // the roles have stopped: send what they left
		l.nc.Close()
	}
	if l.node != nil {
		l.node.Shutdown(ctx)
	}
}
