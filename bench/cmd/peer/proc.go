package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// usage is the server process's resource use as the kernel reports it,
// the same two figures votecast's Prometheus process collector exports
// (process_resident_memory_bytes, process_cpu_seconds_total), read from
// /proc because Centrifugo is measured from outside.
type usage struct {
	RSS      int64 // bytes, VmRSS
	CPUTicks int64 // utime + stime, clock ticks since the process started
}

// serverProc reads one process's /proc files.
type serverProc struct {
	pid int
}

// comm is the process's command name, to check the PID is the server's.
func (p serverProc) comm() (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.pid))
	if err != nil {
		return "", fmt.Errorf("read the server's name: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (p serverProc) usage() (usage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return usage{}, fmt.Errorf("read the server's CPU time: %w", err)
	}
	ticks, err := parseStatTicks(stat)
	if err != nil {
		return usage{}, fmt.Errorf("read the server's CPU time: %w", err)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return usage{}, fmt.Errorf("read the server's memory: %w", err)
	}
	defer f.Close()
	rss, err := parseStatusRSS(f)
	if err != nil {
		return usage{}, fmt.Errorf("read the server's memory: %w", err)
	}
	return usage{RSS: rss, CPUTicks: ticks}, nil
}

// parseStatTicks returns utime + stime, fields 14 and 15 of
// /proc/PID/stat (proc(5)). The command name, field 2, is in parentheses
// and may itself hold spaces and parentheses, so the fields are counted
// from the last ')'.
func parseStatTicks(stat []byte) (int64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat %.60q: no command name", stat)
	}
	f := strings.Fields(string(stat[i+1:])) // f[0] is field 3, the state
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("stat: %d fields after the command name, want more than %d", len(f), stime)
	}
	u, err := strconv.ParseInt(f[utime], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat utime: %w", err)
	}
	s, err := strconv.ParseInt(f[stime], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat stime: %w", err)
	}
	return u + s, nil
}

// parseStatusRSS returns VmRSS of /proc/PID/status in bytes.
func parseStatusRSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		val, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		num, unit, _ := strings.Cut(strings.TrimSpace(val), " ")
		if strings.TrimSpace(unit) != "kB" {
			return 0, fmt.Errorf("VmRSS %q: want kB", strings.TrimSpace(val))
		}
		kb, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS: %w", err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmRSS line (is the process a zombie?)")
}
