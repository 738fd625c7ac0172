package main

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseStatTicks(t *testing.T) {
	// Fields 14 and 15 (utime 1234, stime 56) after a command name with
	// spaces and parentheses in it.
	tail := "S 1 2 3 4 5 6 7 8 9 10 1234 56 0 0 20 0 12 0 99 123456 789"
	for _, tc := range []struct {
		name, stat string
		want       int64
		err        string
	}{
		{name: "plain", stat: "4242 (centrifugo) " + tail, want: 1290},
		{name: "odd name", stat: "4242 (a) b (c)) " + tail, want: 1290},
		{name: "no name", stat: "4242 centrifugo S 1", err: "no command name"},
		{name: "short", stat: "4242 (centrifugo) S 1 2 3", err: "fields"},
		{name: "not a number", stat: "4242 (centrifugo) " + strings.Replace(tail, "1234", "x", 1), err: "utime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatTicks([]byte(tc.stat + "\n"))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestParseStatusRSS(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		want         int64
		err          string
	}{
		{name: "kB", status: "Name:\tcentrifugo\nVmHWM:\t  99999 kB\nVmRSS:\t   41236 kB\nRssAnon:\t 1 kB\n", want: 41236 * 1024},
		{name: "missing", status: "Name:\tcentrifugo\nState:\tZ (zombie)\n", err: "no VmRSS"},
		{name: "unit", status: "VmRSS:\t 12 MB\n", err: "want kB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatusRSS(strings.NewReader(tc.status))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestParseSources(t *testing.T) {
	got, err := parseSources("127.0.0.2-127.0.0.4, 127.0.0.9")
	want := []netip.Addr{
		netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"),
		netip.MustParseAddr("127.0.0.4"), netip.MustParseAddr("127.0.0.9"),
	}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	if got, err := parseSources(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: got %v, %v", got, err)
	}
	for _, bad := range []string{"10.0.0.1", "127.0.0.5-127.0.0.2", "127.0.0.1-x", "127.0.0.0-127.0.255.255"} {
		if _, err := parseSources(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestFrame(t *testing.T) {
	// A frame as Centrifugo's writer batches it: a ping, a reply, a
	// publication and a trailing newline.
	frame := "{}\n" +
		`{"id":1,"connect":{"client":"c1","version":"6.9.1","ping":25,"pong":true}}` + "\n" +
		`{"push":{"channel":"bench","pub":{"data":` + string(probePayload(3)) + `,"offset":7}}}` + "\n"
	var got []string
	err := eachMessage([]byte(frame), func(line []byte) error {
		m, ping, err := parseMessage(line)
		switch {
		case err != nil:
			return err
		case ping:
			got = append(got, "ping")
		case m.ID == 1 && m.Connect != nil:
			got = append(got, fmt.Sprintf("connect %s pong=%v", m.Connect.Version, m.Connect.Pong))
		case m.Push != nil && m.Push.Pub != nil:
			seq, err := probeSeq(m.Push.Pub.Data)
			if err != nil {
				return err
			}
			got = append(got, fmt.Sprintf("pub %s %d", m.Push.Channel, seq))
		default:
			got = append(got, "other")
		}
		return nil
	})
	want := []string{"ping", "connect 6.9.1 pong=true", "pub bench 3"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}

	m, ping, err := parseMessage([]byte(`{"id":2,"error":{"code":103,"message":"permission denied"}}`))
	if err != nil || ping || m.Error == nil || m.Error.Code != 103 {
		t.Fatalf("error reply: got %+v, ping %v, %v", m, ping, err)
	}
	if _, _, err := parseMessage([]byte(`{"id":`)); err == nil {
		t.Fatal("truncated message: no error")
	}
	if _, err := probeSeq([]byte(`{"poll":"p","totals":[1,2,3]}`)); err == nil {
		t.Fatal("publication without seq: no error")
	}
}

func TestProbePayload(t *testing.T) {
	// About the size of a votecast totals frame.
	if n := len(probePayload(5)); n < 40 || n > 80 {
		t.Fatalf("payload is %d bytes: %s", n, probePayload(5))
	}
	if seq, err := probeSeq(probePayload(5)); err != nil || seq != 5 {
		t.Fatalf("probeSeq = %d, %v", seq, err)
	}
}

func TestParseGoRuntime(t *testing.T) {
	text := "# HELP go_goroutines Number of goroutines that currently exist.\n" +
		"# TYPE go_goroutines gauge\ngo_goroutines 20086\n" +
		"go_memstats_heap_inuse_bytes 1.87629568e+08\n" +
		"go_memstats_stack_inuse_bytes 2.66469376e+08\n" +
		"go_memstats_stack_sys_bytes 1\ncentrifugo_node_num_clients{} 10000\n"
	got, err := parseGoRuntime(strings.NewReader(text))
	want := goRuntime{Goroutines: 20086, StackBytes: 266469376, HeapBytes: 187629568}
	if err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	if _, err := parseGoRuntime(strings.NewReader("go_goroutines 3\n")); err == nil {
		t.Fatal("missing gauges: no error")
	}
	if _, err := parseGoRuntime(strings.NewReader("go_goroutines x\n")); err == nil {
		t.Fatal("not a number: no error")
	}
}
