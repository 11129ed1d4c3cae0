package main

import (
	"bytes"
	"errors"
	"os"
	"strconv"
)

// cpuTimes are the machine's CPU time counters, in clock ticks summed over
// its CPUs, from the "cpu" line of /proc/stat: all of the time, and the
// part of it that was stolen, when this virtual machine had work but the
// hypervisor ran something else.
//
// Each scenario reports the stolen share of its measured time: how much of
// it the host took from the load generator, the server and the database
// alike (the README has what it showed).
type cpuTimes struct {
	total, steal uint64
}

// readCPUTimes reads /proc/stat; ok is false where there is none (not
// Linux) or it cannot be parsed, and the report then shows no steal.
func readCPUTimes() (c cpuTimes, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c, false
	}
	c, err = parseCPUTimes(b)
	return c, err == nil
}

// parseCPUTimes reads the first line of /proc/stat: "cpu" and the ticks
// spent in user, nice, system, idle, iowait, irq, softirq, steal, guest and
// guest_nice. The guest times are already counted in user and nice, so
// the total is the sum of the first eight, as vmstat's; a line without a
// steal column is an error.
func parseCPUTimes(b []byte) (cpuTimes, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) < 9 || string(fields[0]) != "cpu" {
		return cpuTimes{}, errors.New(`/proc/stat: no "cpu" line with a steal column`)
	}
	var c cpuTimes
	for i, f := range fields[1:9] {
		n, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return cpuTimes{}, errors.New("/proc/stat: " + err.Error())
		}
		c.total += n
		if i == 7 {
			c.steal = n
		}
	}
	return c, nil
}

// since returns the ticks from before to c.
func (c cpuTimes) since(before cpuTimes) cpuTimes {
	if c.total < before.total || c.steal < before.steal {
		return cpuTimes{} // counters never go back; a reset is no measurement
	}
	return cpuTimes{total: c.total - before.total, steal: c.steal - before.steal}
}

func (c cpuTimes) add(d cpuTimes) cpuTimes {
	return cpuTimes{total: c.total + d.total, steal: c.steal + d.steal}
}

// stealPct is the stolen share of the time, in percent; nil when nothing
// was measured.
func (c cpuTimes) stealPct() *float64 {
	if c.total == 0 {
		return nil
	}
	p := round(100 * float64(c.steal) / float64(c.total))
	return &p
}
