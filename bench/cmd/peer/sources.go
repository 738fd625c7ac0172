package main

import (
	"fmt"
	"net/netip"
	"strings"
)

// The bench module does not depend on the service's module, so this is
// loadgen's source-address parsing (loadgen/sources.go) kept in step by
// hand: the peer spreads its clients as votecast load spreads its viewers.

// maxSources bounds a source list: more addresses buy nothing.
const maxSources = 1024

// parseSources reads loopback source addresses, single ones and inclusive
// ranges, comma-separated ("127.0.0.2-127.0.0.11"), the syntax of
// votecast load's --sources. Only loopback addresses are accepted: a
// socket bound to another address would leave the machine.
func parseSources(s string) ([]netip.Addr, error) {
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
			if len(out) == maxSources {
				return nil, fmt.Errorf("sources %q: more than %d addresses", s, maxSources)
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
