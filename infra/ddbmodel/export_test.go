package ddbmodel

import (
	"context"
	"time"
)

// SetSleep replaces the proxy's latency wait, so that tests observe the
// drawn durations and decide when a call's latency is over.
func SetSleep(p *Proxy, f func(context.Context, time.Duration) error) { p.sleep = f }

// DrawLatency draws from p's latency generator exactly as a call does.
func DrawLatency(p *Proxy, txn bool) time.Duration { return p.drawLatency(txn) }
