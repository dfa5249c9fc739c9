package ddbmodel_test

import (
	"testing"
	"time"

	"github.com/treasuryledger/treasury/infra/ddbmodel"
)

func TestAWS(t *testing.T) {
	want := ddbmodel.Config{Conflicts: true, Latency: true,
		GetP50: 8 * time.Millisecond, GetP99: 16 * time.Millisecond,
		TxnP50: 25 * time.Millisecond, TxnP99: 90 * time.Millisecond}
	if got := ddbmodel.AWS(); got != want {
		t.Fatalf("AWS() = %+v, want %+v", got, want)
	}
}

func TestParse(t *testing.T) {
	aws := ddbmodel.AWS()
	with := func(f func(*ddbmodel.Config)) ddbmodel.Config {
		c := ddbmodel.AWS()
		f(&c)
		return c
	}
	for _, tc := range []struct {
		in   string
		want ddbmodel.Config
	}{
		{"", ddbmodel.Config{}},
		{"off", ddbmodel.Config{}},
		{"none", ddbmodel.Config{}},
		{"aws", aws},
		{" AWS ", aws},
		{"aws,throttle=0.05,lost=0.01,seed=7", with(func(c *ddbmodel.Config) {
			c.ThrottleRate, c.LostResponseRate, c.Seed = 0.05, 0.01, 7
		})},
		{"seed=3,aws", with(func(c *ddbmodel.Config) { c.Seed = 3 })},
		{"aws,latency=off", with(func(c *ddbmodel.Config) { c.Latency = false })},
		{"conflicts", ddbmodel.Config{Conflicts: true}},
		{"latency", with(func(c *ddbmodel.Config) { c.Conflicts = false })},
		{"latency,txn_p50=30ms,txn_p99=120ms", with(func(c *ddbmodel.Config) {
			c.Conflicts, c.TxnP50, c.TxnP99 = false, 30*time.Millisecond, 120*time.Millisecond
		})},
		{"provisioned=0.1,internal=0.2,reset=0.3", ddbmodel.Config{ProvisionedRate: 0.1, InternalErrorRate: 0.2, ResetRate: 0.3}},
	} {
		got, err := ddbmodel.Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		// String is Parse's form.
		if back, err := ddbmodel.Parse(got.String()); err != nil || back != got {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", got.String(), back, err, got)
		}
	}
	for _, bad := range []string{
		"bogus", "throttle", "throttle=2", "throttle=-0.1", "throttle=NaN", "throttle=0.6,internal=0.6",
		"seed=x", "conflicts=maybe", "latency,get_p50=20ms,get_p99=10ms", "latency,txn_p50=-1ms", "get_p50=fast",
	} {
		if c, err := ddbmodel.Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", bad, c)
		}
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	p := ddbmodel.New("http://127.0.0.1:1", ddbmodel.Config{ThrottleRate: 0.7, ResetRate: 0.7})
	if _, err := p.Start(); err == nil {
		p.Close()
		t.Fatal("Start with rates summing to 1.4: want an error")
	}
	if _, err := ddbmodel.New("not a url", ddbmodel.Config{}).Start(); err == nil {
		t.Fatal("Start with a relative target: want an error")
	}
}
