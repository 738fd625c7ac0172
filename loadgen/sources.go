package loadgen

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// MaxSources bounds a source list: more addresses buy nothing.
const MaxSources = 1024

// ParseSources reads a list of loopback source addresses: single addresses
// and inclusive ranges, comma-separated ("127.0.0.2-127.0.0.11",
// "127.0.0.2,127.0.0.5-127.0.0.7"). Only loopback addresses are accepted:
// the generator is for this machine's loopback, and a socket bound to
// another address would leave it.
func ParseSources(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		first, last, isRange := strings.Cut(part, "-")
		lo, err := parseLoopback(first)
		if err != nil {
			return nil, err
		}
		hi := lo
		if isRange {
			if hi, err = parseLoopback(last); err != nil {
				return nil, err
			}
			if hi.Less(lo) || hi.Is4() != lo.Is4() {
				return nil, fmt.Errorf("source range %q: the end is before the start", part)
			}
		}
		for a := lo; ; a = a.Next() {
			if len(out) == MaxSources {
				return nil, fmt.Errorf("sources %q: more than %d addresses", s, MaxSources)
			}
			out = append(out, a)
			if a == hi {
				break
			}
		}
	}
	return out, nil
}

func parseLoopback(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("source address %q: %w", s, err)
	}
	if !a.IsLoopback() {
		return netip.Addr{}, fmt.Errorf("source address %s is not a loopback address", a)
	}
	return a.Unmap(), nil
}

// SourcesFor returns DefaultSources when the server's URL names an IPv4
// loopback address, and nothing otherwise (the OS picks the source).
func SourcesFor(serverURL string) []netip.Addr {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		return nil
	}
	out, _ := ParseSources(DefaultSources)
	return out
}
