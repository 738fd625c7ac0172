package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/votecast/votecast/schema"
)

// Config is one load run. URL, AdminToken and ViewerSecret are required;
// every other zero value is a documented default, filled in by Run.
type Config struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8080.
	URL string
	// AdminToken is the producer API token.
	AdminToken string
	// ViewerSecret is the HS256 key viewer tokens are signed with.
	ViewerSecret []byte
	// Viewers is how many viewers connect and vote; zero value: 10000.
	Viewers int
	// Rate is the target of votes per second; zero value: every viewer
	// votes at once.
	Rate float64
	// Sources are the local addresses client sockets are spread over; zero
	// value: none (the OS picks), see DefaultSources.
	Sources []netip.Addr
	// Options is the number of options of the poll Run creates; zero
	// value: 4. Ignored with Poll.
	Options int
	// Poll is an open poll with live results to vote in; zero value:
	// create and open a new one.
	Poll string
	// Polls is how many polls Run opens, viewers spread evenly over them
	// (viewer i watches and votes in poll i mod Polls), to measure how the
	// cost grows with the polls open at once; zero value: 1. With Poll it
	// must be 1.
	Polls int
	// ConnectConcurrency bounds dials in progress; zero value: 64.
	ConnectConcurrency int
	// MaxConnectFailures is how many viewers may fail to connect before the
	// run fails; zero value: Viewers/1000; negative: none may fail.
	MaxConnectFailures int
	// Settle is the pause between the last connection and the idle memory
	// reading; zero value: 6s, longer than a viewer's writer goroutine
	// lingers after its last frame (5s), so the reading is of idle viewers.
	Settle time.Duration
	// Probes is the number of single-vote fan-out rounds after the spike
	// (each a clean measure of one frame to every viewer); zero value: 3;
	// negative: none.
	Probes int
	// PhaseTimeout bounds each phase (connect, vote, fan-out, ...); zero
	// value: 2m.
	PhaseTimeout time.Duration
	// Progress receives a line a second while a phase runs; zero value:
	// io.Discard.
	Progress io.Writer
	// Redraw: Progress is a terminal, so the phase's line is drawn over
	// four times a second instead of a new line each second.
	Redraw bool
	// HTTPClient talks to the API and /metrics; zero value: a client with
	// a 30s timeout.
	HTTPClient *http.Client
	// ProfileURL is the server's debug listener (serve --debug-listen),
	// as http://host:port: the server's CPU profile is taken around the
	// spike and the CPU per vote split by part of the vote path; zero
	// value: no profile.
	ProfileURL string
	// ProfileOut is where that profile is written; zero value: nowhere.
	ProfileOut string
	// Giveaway, when above zero, makes the poll a giveaway with that many
	// prizes (no probes: every vote is an entry) and checks that exactly
	// that many entrants win and every entrant is told; zero value: a poll.
	Giveaway int
}

// DefaultSources are the source addresses used against a loopback IPv4
// server when none are given: ten addresses, so ten thousand sockets take
// a thousand ports each and stay clear of 127.0.0.1's ephemeral range.
const DefaultSources = "127.0.0.2-127.0.0.11"

func (c *Config) setDefaults() error {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("loadgen: url %q: want http://host:port", c.URL)
	}
	if c.AdminToken == "" || len(c.ViewerSecret) == 0 {
		return errors.New("loadgen: the admin token and the viewer secret are required")
	}
	if c.Viewers == 0 {
		c.Viewers = 10_000
	}
	if c.Viewers < 1 {
		return fmt.Errorf("loadgen: viewers must be positive, not %d", c.Viewers)
	}
	if c.Rate < 0 {
		return fmt.Errorf("loadgen: rate must not be negative, not %g", c.Rate)
	}
	if c.Options == 0 {
		c.Options = 4
	}
	if c.Options < 2 || c.Options > 32 {
		return fmt.Errorf("loadgen: options must be between 2 and 32, not %d", c.Options)
	}
	if c.Polls == 0 {
		c.Polls = 1
	}
	if c.Polls < 1 || c.Polls > 1000 || c.Poll != "" && c.Polls != 1 {
		return fmt.Errorf("loadgen: polls must be between 1 and 1000, and 1 with an existing poll, not %d", c.Polls)
	}
	if c.ConnectConcurrency <= 0 {
		c.ConnectConcurrency = 64
	}
	if c.MaxConnectFailures == 0 {
		c.MaxConnectFailures = c.Viewers / 1000
	}
	if c.Settle == 0 {
		c.Settle = 6 * time.Second
	}
	if c.Giveaway < 0 || c.Giveaway > schema.MaxPrizes || c.Giveaway > 0 && (c.Poll != "" || c.Polls != 1) {
		return fmt.Errorf("loadgen: giveaway must be between 0 and %d prizes, in one poll load creates, not %d", schema.MaxPrizes, c.Giveaway)
	}
	switch {
	case c.Giveaway > 0:
		c.Probes = -1 // a probe's vote would be one more entry
	case c.Probes == 0:
		c.Probes = 3
	}
	if c.PhaseTimeout == 0 {
		c.PhaseTimeout = 2 * time.Minute
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return nil
}
