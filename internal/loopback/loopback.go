// Package loopback gives tests loopback addresses to start servers on when
// the address must be known before the server starts (NATS routes, a
// child process's --http): FreeAddr never gives one address twice in a
// test binary, since the kernel may hand a port just closed out again and
// two nodes on one port cannot both start.
package loopback

import (
	"net"
	"sync"
	"testing"
)

// handedOut are the addresses FreeAddr gave in this test binary.
var handedOut sync.Map

// FreeAddr is a 127.0.0.1 address nothing listens on now, and that no
// earlier call returned.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if _, taken := handedOut.LoadOrStore(addr, true); !taken {
			return addr
		}
	}
}
