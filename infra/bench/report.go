package bench

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Section names: each is written between <!-- name:begin --> and
// <!-- name:end --> of docs/BENCHMARKS.md.
const (
	SectionRun        = "bench-run"
	SectionCost       = "bench-cost"
	SectionCPU        = "bench-cpu"
	SectionThroughput = "bench-throughput"
	SectionScale      = "bench-scale"
)

// ReplaceSection puts content between the named markers of doc.
func ReplaceSection(doc, name, content string) (string, error) {
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return "", fmt.Errorf("the document has no %s … %s markers", begin, end)
	}
	if strings.Count(doc, begin) != 1 || strings.Count(doc, end) != 1 {
		return "", fmt.Errorf("the document has the %s markers more than once", name)
	}
	return doc[:i+len(begin)] + "\n" + strings.TrimSpace(content) + "\n" + doc[j:], nil
}

// RunInfo says where, when and how the numbers were made.
type RunInfo struct {
	Date, CPU, Memory, Go, Kernel, DynamoDBLocal string
	Cores                                        int
	LoadBefore, LoadAfter                        string
	Command                                      string
	Parts                                        []string // what this run measured
	Minutes                                      float64
	Runs, Samples, Warmup                        int
	GoBenchCount                                 int
	Raw                                          []string // raw output files
}

// RunSection renders the run's circumstances.
func RunSection(ri RunInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s by `%s` (%.1f min in all).\n\n", ri.Date, ri.Command, ri.Minutes)
	b.WriteString("| | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| CPU | %s, %d cores (`nproc`), shared with other work |\n", ri.CPU, ri.Cores)
	fmt.Fprintf(&b, "| memory | %s |\n", ri.Memory)
	fmt.Fprintf(&b, "| Go | %s |\n", ri.Go)
	fmt.Fprintf(&b, "| kernel | %s |\n", ri.Kernel)
	fmt.Fprintf(&b, "| DynamoDB Local | %s |\n", ri.DynamoDBLocal)
	fmt.Fprintf(&b, "| load average (1, 5, 15 min) | %s before, %s after |\n", ri.LoadBefore, ri.LoadAfter)
	fmt.Fprintf(&b, "| parts measured | %s (sections of parts left out keep their last run's numbers) |\n", strings.Join(ri.Parts, ", "))
	fmt.Fprintf(&b, "| repetitions | cost model: %d requests per row after %d uncounted; throughput: %d runs per level; Go benchmarks: `-count %d` |\n",
		ri.Samples, ri.Warmup, ri.Runs, ri.GoBenchCount)
	b.WriteString("\nRaw output, beside this file: ")
	for i, r := range ri.Raw {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "[`%s`](%s)", r, r)
	}
	b.WriteString(". Medians throughout, with (min–max) where runs differ.\n")
	return b.String()
}

func usd(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 0.1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func num(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// find returns the row of a route's usual request (variant "").
func find(rows []RouteCost, route, variant string) (RouteCost, bool) {
	for _, r := range rows {
		if r.Case.Route == route && r.Case.Variant == variant {
			return r, true
		}
	}
	return RouteCost{}, false
}

// CostSection renders what each request costs in units and dollars.
func CostSection(rows []RouteCost, p Prices, l LatencyModel) string {
	var b strings.Builder
	n := 0
	if len(rows) > 0 {
		n = len(rows[0].Samples)
	}
	fmt.Fprintf(&b, "Every route of `api.Routes`, through the local gateway, the Lambda adapter and the real handlers, against "+
		"DynamoDB Local; %d requests per row, one at a time, read from each request's log line. Units and items are the same "+
		"on every request of a row unless a range is shown.\n\n", n)
	b.WriteString("| Route | request | round trips (calls) | RCU | WCU, modelled (Local says) | + gsi1 WCU | items written | largest item, B | duration here, ms | of which DynamoDB Local | AWS model, ms |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		sp := func(f func(Sample) float64, d int) string { return r.Spread(f).Format(d) }
		rt := sp(func(s Sample) float64 { return s.RoundTrips }, 0)
		if calls := sp(func(s Sample) float64 { return s.Calls }, 0); calls != rt {
			rt += " (" + calls + ")"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s |\n",
			r.Name(), r.Case.Show, rt,
			sp(func(s Sample) float64 { return s.RCU }, 1),
			sp(func(s Sample) float64 { return s.WCU }, 0), sp(func(s Sample) float64 { return s.WCULocal }, 0),
			sp(func(s Sample) float64 { return s.IndexWCU }, 0),
			sp(func(s Sample) float64 { return s.Items }, 0), sp(func(s Sample) float64 { return s.Largest }, 0),
			sp(func(s Sample) float64 { return s.DurationMs }, 1), sp(func(s Sample) float64 { return s.DynamoMs }, 1),
			num(math.Round(r.Med(func(s Sample) float64 { return s.AWSMs(l, p) })*10)/10))
	}
	b.WriteString("\n")

	fmt.Fprintf(&b, "Dollars per **million requests** of each row (%s; DynamoDB on-demand $%.3f per million write and $%.3f per million read "+
		"units; Lambda arm64 at %.0f MB, $%.10f per GB-s and $%.2f per million requests, billed per %.0f ms; HTTP API $%.2f per million; "+
		"CloudWatch Logs ingestion $%.2f per GB). Write units include the gsi1 column. \"Lambda, here\" bills the duration measured "+
		"against DynamoDB Local on this machine; \"Lambda, AWS model\" bills the AWS model's duration.\n\n",
		PriceDate, p.WriteUnit*1e6, p.ReadUnit*1e6, p.FunctionMemoryMB, p.LambdaGBSecond, p.LambdaRequest*1e6, p.BillingGranularity,
		p.HTTPAPIRequest*1e6, p.LogIngestGB)
	b.WriteString("| Route | DynamoDB writes | DynamoDB reads | Lambda, here | Lambda, AWS model | HTTP API | CloudWatch Logs | **total** (AWS model) |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		c := r.Cost(p, l)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | **%s** |\n", r.Name(),
			usd(PerMillion(c.Writes)), usd(PerMillion(c.Reads)), usd(PerMillion(c.LambdaLocal)), usd(PerMillion(c.LambdaAWS)),
			usd(PerMillion(c.HTTPAPI)), usd(PerMillion(c.Logs)), usd(PerMillion(c.Total())))
	}
	b.WriteString("\n")

	if t, ok := find(rows, "CreateTransfer", ""); ok {
		c := t.Cost(p, l)
		wcu := t.Med(func(s Sample) float64 { return s.WCU })
		fmt.Fprintf(&b, "A transfer writes %s items in one `TransactWriteItems`: DynamoDB bills %s write units for them (2 per KB per item "+
			"in a transaction), DynamoDB Local reports %s, and gsi1 adds %s. Its total of $%s per million transfers is %.0f%% DynamoDB "+
			"writes, %.0f%% HTTP API and %.0f%% Lambda.\n",
			num(t.Med(func(s Sample) float64 { return s.Items })), num(wcu), num(t.Med(func(s Sample) float64 { return s.WCULocal })),
			num(t.Med(func(s Sample) float64 { return s.IndexWCU })), usd(PerMillion(c.Total())),
			100*c.Writes/c.Total(), 100*c.HTTPAPI/c.Total(), 100*c.LambdaAWS/c.Total())
	}
	return b.String()
}

// CPUSection renders the Go benchmarks.
func CPUSection(benches []GoBench, p Prices) string {
	var b strings.Builder
	share := 1 / p.CPUShare()
	fmt.Fprintf(&b, "| Benchmark | time per op, µs | at a %.0f MB share (×%.1f), ms | bytes per op | allocs per op |\n", p.FunctionMemoryMB, share)
	b.WriteString("| --- | ---: | ---: | ---: | ---: |\n")
	us := func(s Spread) Spread {
		return Spread{Median: s.Median / 1000, Min: s.Min / 1000, Max: s.Max / 1000, N: s.N}
	}
	var handler, domain float64
	for _, g := range benches {
		ns := g.Spread("ns/op")
		fmt.Fprintf(&b, "| `%s` | %s | %.2f | %s | %s |\n", g.Name, us(ns).Format(1), ns.Median*share/1e6,
			g.Spread("B/op").Format(0), g.Spread("allocs/op").Format(0))
		switch g.Name {
		case "Handler/CreateTransfer":
			handler = ns.Median
		case "Domain/Transfer":
			domain = ns.Median
		}
	}
	if handler > 0 && domain > 0 {
		fmt.Fprintf(&b, "\nA transfer costs %.0f µs of CPU in the function here, of which the domain rule (`ledger.Transfer`) is %.1f µs "+
			"(%.0f%%); the rest is the adapter, strict JSON decoding, the idempotency hash, the store's item building, the answer's "+
			"JSON and the log line. At a %.0f MB function's share of a vCPU that is about %.1f ms, against the tens of ms of its two DynamoDB round trips.\n",
			handler/1000, domain/1000, 100*domain/handler, p.FunctionMemoryMB, handler*share/1e6)
	}
	return b.String()
}

// ThroughputSection renders the load runs.
func ThroughputSection(levels []LoadLevel, o LoadOptions, cores int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Transfers of random amounts between random pairs of %d accounts of one tenant, each client sending its next request "+
		"when the last is answered; %d runs of %s per level, the levels taking turns.\n\n", o.Accounts, o.Runs, o.Duration)
	fmt.Fprintf(&b, "| concurrent clients | postings/s | client p50, ms | client p99, ms | function p50, ms | function p99, ms | conflict retries per 100 postings | other answers | CPU busy, cores of %d (Go process) |\n", cores)
	b.WriteString("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |\n")
	for _, l := range levels {
		posted, retries, other := l.summary()
		per100 := 0.0
		if posted > 0 {
			per100 = 100 * retries / float64(posted)
		}
		cpu := "–"
		if machine, self := l.CPU(); machine > 0 {
			cpu = fmt.Sprintf("%.2f (%.2f)", machine, self)
		}
		fmt.Fprintf(&b, "| %d | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %s | %s |\n", l.Clients, l.Rate().Format(1),
			l.Latency(0.5), l.Latency(0.99), l.FuncLatency(0.5), l.FuncLatency(0.99), per100, other, cpu)
	}
	return b.String()
}

// Volume is one column of the cost at scale.
type Volume struct {
	Label    string
	Postings float64 // a month
	Postgres PostgresTier
}

// Volumes are the three sizes of the cost at scale.
var Volumes = []Volume{
	{"10 thousand", 1e4, PostgresTier{Instance: RDSMicro, StorageGBMonth: RDSStorageGBMonth, MinStorageGB: 20, Compute: []Server{FargateSmall, ALBLight}}},
	{"1 million", 1e6, PostgresTier{Instance: RDSMedium, StorageGBMonth: RDSStorageGBMonth, MinStorageGB: 20, Compute: []Server{FargateSmall, ALBLight}}},
	{"100 million", 1e8, PostgresTier{Instance: RDSLarge, StorageGBMonth: RDSStorageGBMonth, MinStorageGB: 20, Compute: []Server{FargateLarge, ALBBusy}}},
}

// Mix is what one posting brings with it: the posting and the reads a
// client makes around it.
var Mix = []struct{ Route, Variant string }{
	{"CreateTransfer", ""}, {"GetBalance", ""}, {"GetHistory", ""}, {"GetTransaction", ""},
}

// PostgresRowFactor is what a Postgres ledger keeps per byte of this
// design's items: row headers and indexes (an assumption, not a measurement).
const PostgresRowFactor = 1.5

// RetainedMonths is the history the storage rows keep.
const RetainedMonths = 12

// ScaleCosts is one volume's monthly bill, per line.
type ScaleCosts struct {
	Requests                                    float64
	HTTPAPI, Lambda, LambdaLocal, Writes, Reads float64
	Storage                                     float64 // DynamoDB and PITR, RetainedMonths of history
	Logs, Metrics                               float64
	PGInstance, PGStorage, PGCompute            float64
	StorageGB, PGStorageGB                      float64
}

// Serverless is this design's total, observability apart.
func (c ScaleCosts) Serverless() float64 {
	return c.HTTPAPI + c.Lambda + c.Writes + c.Reads + c.Storage
}

// Postgres is the always-on design's total, observability apart.
func (c ScaleCosts) Postgres() float64 { return c.PGInstance + c.PGStorage + c.PGCompute }

// Scale computes one volume's bill from the measured rows.
func Scale(rows []RouteCost, v Volume, p Prices, l LatencyModel, metrics int) (ScaleCosts, error) {
	var c ScaleCosts
	var raw float64
	for _, m := range Mix {
		r, ok := find(rows, m.Route, m.Variant)
		if !ok {
			return c, fmt.Errorf("no cost-model row for %s", m.Route)
		}
		pr := r.Cost(p, l)
		c.Requests += v.Postings
		c.HTTPAPI += v.Postings * pr.HTTPAPI
		c.Lambda += v.Postings * pr.LambdaAWS
		c.LambdaLocal += v.Postings * pr.LambdaLocal
		c.Writes += v.Postings * pr.Writes
		c.Reads += v.Postings * pr.Reads
		c.Logs += v.Postings * pr.Logs
		c.StorageGB += RetainedMonths * v.Postings * r.Med(func(s Sample) float64 { return s.NewBytes }) / 1e9
		raw += RetainedMonths * v.Postings * r.Med(func(s Sample) float64 { return s.NewRawBytes }) / 1e9
	}
	c.Storage = c.StorageGB * (p.StorageGBMonth + p.PITRGBMonth)
	c.Metrics = float64(metrics) * p.CustomMetricMonth
	c.PGInstance = v.Postgres.Instance.HourlyUSD * MonthHours
	c.PGStorageGB = math.Max(v.Postgres.MinStorageGB, math.Ceil(raw*PostgresRowFactor))
	c.PGStorage = c.PGStorageGB * v.Postgres.StorageGBMonth
	for _, s := range v.Postgres.Compute {
		c.PGCompute += s.HourlyUSD * MonthHours
	}
	return c, nil
}

// ScaleSection renders the monthly bill at three volumes beside an
// always-on Postgres ledger.
func ScaleSection(rows []RouteCost, p Prices, l LatencyModel, metrics int) (string, error) {
	costs := make([]ScaleCosts, len(Volumes))
	for i, v := range Volumes {
		c, err := Scale(rows, v, p, l, metrics)
		if err != nil {
			return "", err
		}
		costs[i] = c
	}
	var b strings.Builder
	fmt.Fprintf(&b, "US dollars a month, %s, no free tiers. Per posting: one transfer and three reads (its balance, a history page "+
		"of 50, the transaction), each at the units and AWS-model duration measured above. Storage keeps %d months of history.\n\n",
		PriceDate, RetainedMonths)
	b.WriteString("| postings a month | ")
	for i, v := range Volumes {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(v.Label)
	}
	b.WriteString(" |\n| --- |" + strings.Repeat(" ---: |", len(Volumes)) + "\n")
	row := func(label string, f func(c ScaleCosts, v Volume) string) {
		b.WriteString("| " + label + " |")
		for i, c := range costs {
			b.WriteString(" " + f(c, Volumes[i]) + " |")
		}
		b.WriteString("\n")
	}
	money := func(f func(ScaleCosts) float64) func(ScaleCosts, Volume) string {
		return func(c ScaleCosts, _ Volume) string { return usd(f(c)) }
	}
	row(fmt.Sprintf("requests (%d per posting)", len(Mix)), func(c ScaleCosts, _ Volume) string { return round2(c.Requests) })
	row("**Serverless (this design)**", func(ScaleCosts, Volume) string { return "" })
	row("API Gateway HTTP API", money(func(c ScaleCosts) float64 { return c.HTTPAPI }))
	row("Lambda, AWS model (duration here)", func(c ScaleCosts, _ Volume) string {
		return usd(c.Lambda) + " (" + usd(c.LambdaLocal) + ")"
	})
	row("DynamoDB writes", money(func(c ScaleCosts) float64 { return c.Writes }))
	row("DynamoDB reads", money(func(c ScaleCosts) float64 { return c.Reads }))
	row(fmt.Sprintf("DynamoDB storage and PITR, %d months kept", RetainedMonths), func(c ScaleCosts, _ Volume) string {
		return fmt.Sprintf("%s (%s GB)", usd(c.Storage), gb(c.StorageGB))
	})
	row("**total**", func(c ScaleCosts, _ Volume) string { return "**" + usd(c.Serverless()) + "**" })
	row("**Postgres ledger server, always on**", func(ScaleCosts, Volume) string { return "" })
	row("RDS instance", func(c ScaleCosts, v Volume) string {
		return usd(c.PGInstance) + " (" + strings.Split(strings.TrimPrefix(v.Postgres.Instance.Name, "RDS for PostgreSQL "), " ")[0] + ")"
	})
	row(fmt.Sprintf("RDS gp3 storage, Multi-AZ, %d months kept", RetainedMonths), func(c ScaleCosts, _ Volume) string {
		return fmt.Sprintf("%s (%s GB)", usd(c.PGStorage), gb(c.PGStorageGB))
	})
	row("ledger server: 2 Fargate tasks and an ALB", money(func(c ScaleCosts) float64 { return c.PGCompute }))
	row("**total**", func(c ScaleCosts, _ Volume) string { return "**" + usd(c.Postgres()) + "**" })
	row("**Either design, as this one logs**", func(ScaleCosts, Volume) string { return "" })
	row("CloudWatch Logs: function line and access log", money(func(c ScaleCosts) float64 { return c.Logs }))
	row(fmt.Sprintf("CloudWatch metrics from EMF (~%d metrics, billed for the hours they are sent)", metrics), func(c ScaleCosts, _ Volume) string {
		return "up to " + usd(c.Metrics)
	})
	b.WriteString("\n")

	// Where the lines cross: serverless grows with postings, the server
	// stands still until it must be resized.
	for i, v := range Volumes {
		c := costs[i]
		winner, ratio := "this design", c.Postgres()/c.Serverless()
		if c.Postgres() < c.Serverless() {
			winner, ratio = "the Postgres server", c.Serverless()/c.Postgres()
		}
		times := fmt.Sprintf("%.1f", ratio)
		if ratio >= 10 {
			times = fmt.Sprintf("%.0f", ratio)
		}
		fmt.Fprintf(&b, "- **%s postings a month**: %s is %s× cheaper ($%s against $%s).\n", v.Label, winner, times,
			usd(min(c.Serverless(), c.Postgres())), usd(max(c.Serverless(), c.Postgres())))
	}
	c := costs[len(costs)-1]
	fmt.Fprintf(&b, "\nThis design's bill is proportional to the volume: at every volume %.0f%% of it is DynamoDB storage and backups of "+
		"the year of history, %.0f%% DynamoDB writes, %.0f%% the HTTP API, %.0f%% reads and %.0f%% Lambda.\n",
		100*c.Storage/c.Serverless(), 100*c.Writes/c.Serverless(), 100*c.HTTPAPI/c.Serverless(), 100*c.Reads/c.Serverless(), 100*c.Lambda/c.Serverless())
	per := costs[1].Serverless() / Volumes[1].Postings
	perOps := (costs[1].Serverless() - costs[1].Storage) / Volumes[1].Postings
	fmt.Fprintf(&b, "\nAt a steady volume, in the twelfth month, this design costs about $%.3f per thousand postings with their reads "+
		"($%.3f of it for requests, the rest for the year of history kept), and nothing when idle. It stays below the smallest "+
		"always-on setup ($%s a month) up to about %s postings a month, and below the db.t4g.medium setup ($%s) up to about %s.\n",
		per*1000, perOps*1000, usd(costs[0].Postgres()), round2(costs[0].Postgres()/per),
		usd(costs[1].Postgres()), round2(costs[1].Postgres()/per))
	return b.String(), nil
}

func gb(v float64) string {
	switch {
	case v >= 10:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// round2 prints a count with two significant digits and a word.
func round2(v float64) string {
	sig := func(x float64) string {
		if x == 0 {
			return "0"
		}
		mag := int(math.Floor(math.Log10(math.Abs(x))))
		e := math.Pow(10, float64(mag-1))
		return strings.TrimSuffix(strconv.FormatFloat(math.Round(x/e)*e, 'f', max(0, 1-mag), 64), ".0")
	}
	switch {
	case v >= 1e6:
		return sig(v/1e6) + " million"
	case v >= 1e3:
		return sig(v/1e3) + " thousand"
	}
	return sig(v)
}

// SectionHot is the marker of the hot-account comparison.
const SectionHot = "bench-hot"

// HotSection compares transfers spread over many accounts with transfers
// all out of one account, first an ordinary one, then one marked hot, under
// the DynamoDB model (conflicts and AWS-like latencies), at one level of
// concurrency.
func HotSection(spread, plain, marked LoadLevel, o LoadOptions, model string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Under the DynamoDB model (`%s`: overlapping transactions conflict as on AWS, calls take AWS-like latencies), "+
		"%d concurrent clients, %d runs of %s each. Spread: transfers between random pairs of %d accounts. Hot: every transfer out of one account "+
		"into a random other one; before: an ordinary account, after: the account marked hot (`\"hot\": true`).\n\n",
		model, spread.Clients, o.Runs, o.Duration, o.Accounts)
	b.WriteString("| scenario | postings/s | client p50, ms | client p99, ms | conflict retries per posting | machine cores busy | other answers |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | --- |\n")
	row := func(name string, l LoadLevel) {
		posted, retries, other := l.summary()
		per := 0.0
		if posted > 0 {
			per = retries / float64(posted)
		}
		machine, _ := l.CPU()
		fmt.Fprintf(&b, "| %s | %s | %.1f | %.1f | %.2f | %.2f | %s |\n", name, l.Rate().Format(1), l.Latency(0.5), l.Latency(0.99), per, machine, other)
	}
	row("spread", spread)
	row("hot, before (ordinary account)", plain)
	row("hot, after (account marked hot)", marked)
	if s := spread.Rate().Median; s > 0 {
		fmt.Fprintf(&b, "\nAt %d clients the hot account runs at %.0f%% of spread before, %.0f%% after.\n",
			spread.Clients, 100*plain.Rate().Median/s, 100*marked.Rate().Median/s)
	}
	var backlog []string
	for _, r := range marked.Runs {
		backlog = append(backlog, fmt.Sprintf("%d lines in %.2f s", r.Backlog, r.CatchUp.Seconds()))
	}
	if len(backlog) > 0 {
		fmt.Fprintf(&b, "\nHistory lag of the hot account: when the load stopped, the sequencer still had to number %s (per run), "+
			"through DynamoDB Local's stream, polled every 100 ms as the local stand-in for Lambda's event source mapping.\n", strings.Join(backlog, ", "))
	}
	return b.String()
}

// summary is a level's postings, conflict retries, and its answers other
// than 201 as text ("none" when there were none).
func (l LoadLevel) summary() (posted int, retries float64, other string) {
	posted, retries, statuses, errs := l.Totals()
	var o []string
	for st, n := range statuses {
		o = append(o, fmt.Sprintf("%d×%d", n, st))
	}
	sort.Strings(o)
	if errs > 0 {
		o = append(o, fmt.Sprintf("%d transport errors", errs))
	}
	if len(o) == 0 {
		return posted, retries, "none"
	}
	return posted, retries, strings.Join(o, ", ")
}
