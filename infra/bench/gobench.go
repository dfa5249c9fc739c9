package bench

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// GoBench is one benchmark's results over its -count runs: every unit
// (ns/op, B/op, allocs/op, custom ones) with its samples.
type GoBench struct {
	Name  string
	Units []string             // in the order of the output
	Vals  map[string][]float64 // unit -> one sample per run
}

// Spread of one unit.
func (g GoBench) Spread(unit string) Spread { return SpreadOf(g.Vals[unit]) }

var procSuffix = regexp.MustCompile(`-\d+$`)

// ParseGoBench reads `go test -bench` output (the benchmark text format).
// Benchmarks keep the order of their first line; the -GOMAXPROCS suffix is
// dropped from names.
func ParseGoBench(out string) []GoBench {
	var order []string
	byName := map[string]*GoBench{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		g := byName[name]
		if g == nil {
			g = &GoBench{Name: name, Vals: map[string][]float64{}}
			byName[name] = g
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			unit := f[i+1]
			if _, seen := g.Vals[unit]; !seen {
				g.Units = append(g.Units, unit)
			}
			g.Vals[unit] = append(g.Vals[unit], v)
		}
	}
	out2 := make([]GoBench, len(order))
	for i, n := range order {
		out2[i] = *byName[n]
	}
	return out2
}

// LoadBenchText writes the throughput runs in the benchmark text format, one
// line per run, so that benchstat reads them like Go benchmarks: iterations
// are postings, ns/op the wall time per posting, plus postings/s and the
// run's client-side p50 and p99 latency.
func LoadBenchText(header string, levels []LoadLevel) string {
	var b strings.Builder
	b.WriteString(header)
	for _, l := range levels {
		for _, r := range l.Runs {
			if r.Posted == 0 {
				continue
			}
			fmt.Fprintf(&b, "BenchmarkGatewayTransfers/clients=%d \t%8d\t%12.0f ns/op\t%10.2f postings/s\t%8.2f p50-ms\t%8.2f p99-ms\n",
				l.Clients, r.Posted, float64(r.Elapsed.Nanoseconds())/float64(r.Posted), r.Rate(),
				Quantile(r.Latencies, 0.5), Quantile(r.Latencies, 0.99))
		}
	}
	return b.String()
}
