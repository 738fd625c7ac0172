package node

import (
	"errors"
	"fmt"
	"strings"
)

// Roles is a set of the work a node does. Its zero value is the empty set,
// which Options reads as AllRoles.
type Roles uint8

// The roles a node can run, in any combination.
const (
	// Ingest takes votes from viewer sockets, publishes them and acks.
	Ingest Roles = 1 << iota
	// Broadcast sums the tally's snapshots and sends totals to viewers.
	Broadcast
	// Tally folds the votes into the store, exactly once.
	Tally

	// AllRoles is one process doing everything: the laptop setup.
	AllRoles = Ingest | Broadcast | Tally
)

var roleNames = []struct {
	role Roles
	name string
}{{Ingest, "ingest"}, {Broadcast, "broadcast"}, {Tally, "tally"}}

// ParseRoles reads a comma-separated list such as "ingest,broadcast".
// Unknown names, empty items and an empty list are errors: a typo must not
// start a node that silently does less than asked.
func ParseRoles(s string) (Roles, error) {
	if strings.TrimSpace(s) == "" {
		return 0, errors.New("no roles given: want one or more of ingest, broadcast, tally")
	}
	var out Roles
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		r, ok := roleNamed(item)
		switch {
		case item == "":
			return 0, fmt.Errorf("empty role name in %q: want one or more of ingest, broadcast, tally, comma-separated", s)
		case !ok:
			return 0, fmt.Errorf("unknown role %q: want one or more of ingest, broadcast, tally", item)
		}
		out |= r
	}
	return out, nil
}

func roleNamed(name string) (Roles, bool) {
	for _, rn := range roleNames {
		if rn.name == name {
			return rn.role, true
		}
	}
	return 0, false
}

// Has reports whether every role of r is in the set.
func (rs Roles) Has(r Roles) bool { return r != 0 && rs&r == r }

// serves reports whether the node has viewers and producers: the HTTP API,
// the pages and the viewer socket.
func (rs Roles) serves() bool { return rs&(Ingest|Broadcast) != 0 }

// String is the canonical list, "ingest,broadcast,tally" order.
func (rs Roles) String() string {
	var names []string
	for _, rn := range roleNames {
		if rs.Has(rn.role) {
			names = append(names, rn.name)
		}
	}
	return strings.Join(names, ",")
}

// Set parses a list into rs, so a command line can take --roles as a
// flag.Value.
func (rs *Roles) Set(s string) error {
	r, err := ParseRoles(s)
	if err != nil {
		return err
	}
	*rs = r
	return nil
}
