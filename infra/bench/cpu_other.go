//go:build !linux

package bench

import "time"

type cpuSample struct {
	machineBusy, self time.Duration
	ok                bool
}

// sampleCPU knows only Linux's /proc/stat.
func sampleCPU() cpuSample { return cpuSample{} }
