package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/votecast/votecast/identity"
	"github.com/votecast/votecast/internal/loopback"
)

// The tests in this file run the real binary, as an operator would, where
// only a real process can play the failure: kill -9, a second process.

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

// votecastBinary builds the binary once per test run.
func votecastBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "votecast-bin-"); binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "votecast"), ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "votecast")
}

func removeBinary() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// freePort is a loopback address for a server the test starts.
func freePort(t *testing.T) string {
	t.Helper()
	return loopback.FreeAddr(t)
}

// process is a `votecast serve` child process.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error    // the exit status, once exited is closed
	stderr []string // its log lines, once exited is closed
}

// startProcess runs serve on dir with an embedded NATS listening (so the
// test and recount reach it with the generated nkey), and waits until it
// serves. It returns a server whose helpers talk to the process.
func startProcess(t *testing.T, dir string, extra ...string) (*server, *process) {
	t.Helper()
	httpAddr, natsURL := freePort(t), ""
	args := []string{"serve", "--data", dir, "--http", httpAddr,
		"--admin-token", testToken, "--viewer-secret", testSecret, "--shards", "4",
		"--totals-interval", "20ms", "--close-grace", "200ms", "--log-level", "warn"}
	if i := slices.Index(extra, "--nats"); i >= 0 && i+1 < len(extra) {
		natsURL = extra[i+1] // joins another node's NATS
	} else {
		natsAddr := freePort(t)
		natsURL = "nats://" + natsAddr
		args = append(args, "--nats-listen", natsAddr)
	}
	args = append(args, extra...)
	p, lines := runProcess(t, args...)
	select {
	case <-lines:
	case <-p.exited:
		t.Fatalf("serve exited at start: %v\n%s", p.err, strings.Join(p.stderr, "\n"))
	case <-time.After(60 * time.Second):
		t.Fatal("serve not ready after 60s")
	}
	return &server{t: t, dir: dir, addr: httpAddr, natsURL: natsURL, done: make(chan error, 1)}, p
}

// runProcess starts the binary; the channel receives the "is running"
// line of serve.
func runProcess(t *testing.T, args ...string) (*process, <-chan string) {
	t.Helper()
	cmd := exec.Command(votecastBinary(t), args...)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	running := make(chan string, 1)
	var readers sync.WaitGroup
	readers.Go(func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "votecast is running") {
				running <- sc.Text()
			}
		}
	})
	readers.Go(func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.stderr = append(p.stderr, sc.Text())
		}
	})
	go func() {
		readers.Wait()
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			// What the process said (its warnings and errors) is the
			// first thing a failed run needs.
			t.Logf("votecast %s (pid %d) log, last lines:\n%s", strings.Join(args, " "), cmd.Process.Pid, strings.Join(p.stderr[max(0, len(p.stderr)-200):], "\n"))
		}
	})
	return p, running
}

// kill is kill -9, waited for.
func (p *process) kill(t *testing.T) {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Error("process did not die within 30s of SIGKILL")
	}
}

// dialQuiet opens a viewer socket without failing the test, for use off
// the test goroutine.
func (s *server) dialQuiet(poll, user string) (*viewer, error) {
	return s.dialQuietly(poll, user, false)
}

// dialVoter is dialQuiet for a viewer that only votes: totals frames are
// dropped unread.
func (s *server) dialVoter(poll, user string) (*viewer, error) {
	return s.dialQuietly(poll, user, true)
}

func (s *server) dialQuietly(poll, user string, acksOnly bool) (*viewer, error) {
	tok, err := identity.Mint([]byte(testSecret), user, time.Hour)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+s.addr+"/ws?poll="+poll+"&token="+tok, nil)
	if err != nil {
		return nil, err
	}
	v := &viewer{t: s.t, c: c, frames: make(chan map[string]any, 64), acksOnly: acksOnly}
	go v.read()
	return v, nil
}
