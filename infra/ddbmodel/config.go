// Package ddbmodel is a test harness: an HTTP proxy in front of DynamoDB
// Local (DynamoDB JSON 1.0 protocol) that adds what DynamoDB does and
// DynamoDB Local does not. It models real DynamoDB under stated assumptions;
// it is not a stand-in for it.
//
//   - Conflicts, by DynamoDB's documented rule ("Transaction conflict
//     handling in DynamoDB"): a TransactWriteItems that touches an item of
//     another TransactWriteItems still in flight is cancelled with
//     TransactionCanceledException, reason TransactionConflict at that item's
//     position and None elsewhere; a PutItem, UpdateItem or DeleteItem on such
//     an item fails with TransactionConflictException; a TransactGetItems
//     that touches an item of an in-flight TransactWriteItems, PutItem,
//     UpdateItem, DeleteItem or BatchWriteItem is cancelled the same way.
//     GetItem, BatchGetItem, Query and Scan pass and read the last committed
//     state. A call holds its items for its whole modelled latency.
//   - Latency: every data call waits a log-normal draw whose median and 99th
//     percentile are configured (AWS: single-item calls p50 8 ms, p99 16 ms;
//     transactions p50 25 ms, p99 90 ms, measured from Lambda).
//   - Faults, at configured rates, from a seeded generator: ThrottlingException,
//     ProvisionedThroughputExceededException, InternalServerError, a
//     connection reset before the call is forwarded, and a response lost
//     after DynamoDB Local executed the call (the ambiguous outcome).
//
// It lives outside the domain code, and the local stack switches it on only
// by configuration (see Parse).
package ddbmodel

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config says which behaviours the proxy models. The zero value models
// nothing: the proxy forwards every call unchanged.
type Config struct {
	// Seed seeds the fault and latency generators: the same seed and the
	// same order of calls give the same faults and the same delays.
	Seed int64

	// Conflicts turns on DynamoDB's transaction conflict rules.
	Conflicts bool

	// Latency turns on the modelled call latency. GetP50/GetP99 apply to
	// every non-transactional data call (GetItem, PutItem, UpdateItem,
	// DeleteItem, Query, Scan, BatchGetItem, BatchWriteItem, PartiQL
	// statements); TxnP50/TxnP99 to TransactWriteItems, TransactGetItems and
	// ExecuteTransaction. Each call waits a log-normal draw with that median
	// and 99th percentile.
	Latency        bool
	GetP50, GetP99 time.Duration
	TxnP50, TxnP99 time.Duration

	// Fault rates, each the probability in [0, 1] that a data call gets
	// that fault; at most one fault per call, so the rates must sum to at
	// most 1.
	ThrottleRate      float64 // ThrottlingException (400), not forwarded
	ProvisionedRate   float64 // ProvisionedThroughputExceededException (400), not forwarded
	InternalErrorRate float64 // InternalServerError (500), not forwarded
	ResetRate         float64 // connection reset before forwarding
	LostResponseRate  float64 // forwarded and executed, then the connection is reset
}

// AWS figures measured from Lambda.
const (
	awsGetP50 = 8 * time.Millisecond
	awsGetP99 = 16 * time.Millisecond
	awsTxnP50 = 25 * time.Millisecond
	awsTxnP99 = 90 * time.Millisecond
)

// AWS is DynamoDB as seen from Lambda: conflicts and latency on, no faults.
func AWS() Config {
	return Config{
		Conflicts: true,
		Latency:   true,
		GetP50:    awsGetP50, GetP99: awsGetP99,
		TxnP50: awsTxnP50, TxnP99: awsTxnP99,
	}
}

// Parse reads a configuration from a flag or environment value: a
// comma-separated list of words and name=value settings, applied left to
// right.
//
//	""  off  none            nothing modelled (the zero Config)
//	aws                      AWS(): conflicts and latency, no faults
//	conflicts  latency       switch one behaviour on (=on/off also works)
//	seed=7                   the generators' seed
//	get_p50=8ms get_p99=16ms txn_p50=25ms txn_p99=90ms
//	throttle=0.05 provisioned=0.01 internal=0.01 reset=0.01 lost=0.01
//
// For example "aws,throttle=0.05,lost=0.01,seed=7". With latency on, a
// figure left at zero takes its AWS value.
func Parse(s string) (Config, error) {
	var c Config
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		name, value, hasValue := strings.Cut(f, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if !hasValue {
			switch name {
			case "", "off", "none":
				if name != "" {
					c = Config{Seed: c.Seed}
				}
			case "aws":
				c = withSeed(AWS(), c.Seed)
			case "conflicts":
				c.Conflicts = true
			case "latency":
				c.Latency = true
			default:
				return Config{}, fmt.Errorf("ddbmodel: unknown setting %q", f)
			}
			continue
		}
		var err error
		switch name {
		case "seed":
			c.Seed, err = strconv.ParseInt(value, 10, 64)
		case "conflicts":
			c.Conflicts, err = parseSwitch(value)
		case "latency":
			c.Latency, err = parseSwitch(value)
		case "get_p50":
			c.GetP50, err = time.ParseDuration(value)
		case "get_p99":
			c.GetP99, err = time.ParseDuration(value)
		case "txn_p50":
			c.TxnP50, err = time.ParseDuration(value)
		case "txn_p99":
			c.TxnP99, err = time.ParseDuration(value)
		case "throttle":
			c.ThrottleRate, err = strconv.ParseFloat(value, 64)
		case "provisioned":
			c.ProvisionedRate, err = strconv.ParseFloat(value, 64)
		case "internal":
			c.InternalErrorRate, err = strconv.ParseFloat(value, 64)
		case "reset":
			c.ResetRate, err = strconv.ParseFloat(value, 64)
		case "lost":
			c.LostResponseRate, err = strconv.ParseFloat(value, 64)
		default:
			return Config{}, fmt.Errorf("ddbmodel: unknown setting %q", f)
		}
		if err != nil {
			return Config{}, fmt.Errorf("ddbmodel: setting %q: %w", f, err)
		}
	}
	if c.Latency {
		fill := func(d *time.Duration, v time.Duration) {
			if *d == 0 {
				*d = v
			}
		}
		fill(&c.GetP50, awsGetP50)
		fill(&c.GetP99, awsGetP99)
		fill(&c.TxnP50, awsTxnP50)
		fill(&c.TxnP99, awsTxnP99)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func withSeed(c Config, seed int64) Config {
	c.Seed = seed
	return c
}

func parseSwitch(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "1", "yes":
		return true, nil
	case "off", "false", "0", "no":
		return false, nil
	}
	return false, fmt.Errorf("want on or off, got %q", v)
}

// Validate reports a configuration the proxy cannot run.
func (c Config) Validate() error {
	rates := []struct {
		name string
		v    float64
	}{
		{"throttle", c.ThrottleRate}, {"provisioned", c.ProvisionedRate},
		{"internal", c.InternalErrorRate}, {"reset", c.ResetRate}, {"lost", c.LostResponseRate},
	}
	sum := 0.0
	for _, r := range rates {
		if !(r.v >= 0 && r.v <= 1) { // also rejects NaN
			return fmt.Errorf("ddbmodel: %s rate %v is not in [0, 1]", r.name, r.v)
		}
		sum += r.v
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("ddbmodel: fault rates sum to %v, more than 1", sum)
	}
	if c.Latency {
		for _, p := range []struct {
			name     string
			p50, p99 time.Duration
		}{{"get", c.GetP50, c.GetP99}, {"txn", c.TxnP50, c.TxnP99}} {
			if p.p50 <= 0 || p.p99 < p.p50 {
				return fmt.Errorf("ddbmodel: %s latency p50=%v p99=%v: want 0 < p50 <= p99", p.name, p.p50, p.p99)
			}
		}
	}
	return nil
}

// faulty reports whether any fault rate is set.
func (c Config) faulty() bool {
	return c.ThrottleRate+c.ProvisionedRate+c.InternalErrorRate+c.ResetRate+c.LostResponseRate > 0
}

// String is the Parse form of c, for logs: Parse(c.String()) == c.
func (c Config) String() string {
	var parts []string
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	parts = append(parts, "conflicts="+onOff(c.Conflicts), "latency="+onOff(c.Latency))
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"get_p50", c.GetP50}, {"get_p99", c.GetP99}, {"txn_p50", c.TxnP50}, {"txn_p99", c.TxnP99}} {
		if f.d != 0 {
			parts = append(parts, f.name+"="+f.d.String())
		}
	}
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"throttle", c.ThrottleRate}, {"provisioned", c.ProvisionedRate},
		{"internal", c.InternalErrorRate}, {"reset", c.ResetRate}, {"lost", c.LostResponseRate},
	} {
		if r.v != 0 {
			parts = append(parts, r.name+"="+strconv.FormatFloat(r.v, 'g', -1, 64))
		}
	}
	parts = append(parts, "seed="+strconv.FormatInt(c.Seed, 10))
	return strings.Join(parts, ",")
}
