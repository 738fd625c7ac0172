package loadgen

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseSources(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		in      string
		want    []netip.Addr
		wantErr string
	}{
		{in: "", want: nil},
		{in: "127.0.0.2", want: []netip.Addr{a("127.0.0.2")}},
		{in: "127.0.0.2-127.0.0.4", want: []netip.Addr{a("127.0.0.2"), a("127.0.0.3"), a("127.0.0.4")}},
		{in: " 127.0.0.2 , 127.0.0.9-127.0.0.10 ", want: []netip.Addr{a("127.0.0.2"), a("127.0.0.9"), a("127.0.0.10")}},
		{in: "127.0.0.254-127.0.1.1", want: []netip.Addr{a("127.0.0.254"), a("127.0.0.255"), a("127.0.1.0"), a("127.0.1.1")}},
		{in: "::1", want: []netip.Addr{a("::1")}},
		{in: "::ffff:127.0.0.5", want: []netip.Addr{a("127.0.0.5")}},
		{in: "127.0.0.5-127.0.0.2", wantErr: "before the start"},
		{in: "10.0.0.1", wantErr: "not a loopback"},
		{in: "127.0.0.1-10.0.0.1", wantErr: "not a loopback"},
		{in: "127.0.0.300", wantErr: "source address"},
		{in: "127.0.0.1-::1", wantErr: "before the start"},
		{in: "127.0.0.1-127.0.255.255", wantErr: "more than 1024"},
	}
	for _, tt := range tests {
		got, err := ParseSources(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSources(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseSources(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestSourcesFor(t *testing.T) {
	tests := []struct {
		url  string
		want int
	}{
		{"http://127.0.0.1:8080", 10},
		{"http://127.9.9.9", 10},
		{"http://localhost:8080", 0}, // may resolve to ::1, where 127.x sources cannot reach
		{"http://[::1]:8080", 0},
		{"https://votes.example:443", 0},
		{"::", 0},
	}
	for _, tt := range tests {
		if got := SourcesFor(tt.url); len(got) != tt.want {
			t.Errorf("SourcesFor(%q) = %v, want %d addresses", tt.url, got, tt.want)
		}
	}
}
