package scylla

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Datacenter names go into DDL as quoted map keys.
var dcName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// replicationMap turns a MigrateOptions.Replication spec into the CQL map
// of CREATE KEYSPACE:
//
//	"SimpleStrategy 1"                    -> {'class': 'SimpleStrategy', 'replication_factor': 1}
//	"NetworkTopologyStrategy dc1:3 dc2:2" -> {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}
func replicationMap(spec string) (string, error) {
	f := strings.Fields(spec)
	if len(f) == 0 {
		return "", fmt.Errorf("replication %q: empty", spec)
	}
	switch f[0] {
	case "SimpleStrategy":
		if len(f) != 2 {
			return "", fmt.Errorf("replication %q: want \"SimpleStrategy <factor>\"", spec)
		}
		rf, err := factor(f[1])
		if err != nil {
			return "", fmt.Errorf("replication %q: %w", spec, err)
		}
		return fmt.Sprintf("{'class': 'SimpleStrategy', 'replication_factor': %d}", rf), nil
	case "NetworkTopologyStrategy":
		if len(f) < 2 {
			return "", fmt.Errorf("replication %q: want \"NetworkTopologyStrategy <dc>:<factor> ...\"", spec)
		}
		entries := []string{"'class': 'NetworkTopologyStrategy'"}
		seen := map[string]bool{}
		for _, e := range f[1:] {
			dc, n, ok := strings.Cut(e, ":")
			if !ok || !dcName.MatchString(dc) || seen[dc] {
				return "", fmt.Errorf("replication %q: %q is not a new <dc>:<factor>", spec, e)
			}
			seen[dc] = true
			rf, err := factor(n)
			if err != nil {
				return "", fmt.Errorf("replication %q: datacenter %s: %w", spec, dc, err)
			}
			entries = append(entries, fmt.Sprintf("'%s': %d", dc, rf))
		}
		return "{" + strings.Join(entries, ", ") + "}", nil
	default:
		return "", fmt.Errorf("replication %q: strategy must be SimpleStrategy or NetworkTopologyStrategy", spec)
	}
}

func factor(s string) (int, error) {
	rf, err := strconv.Atoi(s)
	if err != nil || rf < 1 {
		return 0, fmt.Errorf("replication factor %q is not a positive number", s)
	}
	return rf, nil
}
