//go:build unix

package preflight

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// OpenFilesLimit is this process's soft limit on open files; 0 when
// unknown.
func OpenFilesLimit() uint64 {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) != nil {
		return 0
	}
	return uint64(r.Cur)
}

// MemoryBytes is the memory this process may use: its cgroup's limit
// when there is one, else the machine's; 0 when unknown.
func MemoryBytes() uint64 {
	machine := memTotal()
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64); err == nil && (machine == 0 || n < machine) {
			return n
		}
	}
	return machine
}

func memTotal() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// MemTotal:       24568412 kB
		if f := bytes.Fields(sc.Bytes()); len(f) == 3 && string(f[0]) == "MemTotal:" {
			kb, _ := strconv.ParseUint(string(f[1]), 10, 64)
			return kb << 10
		}
	}
	return 0
}
