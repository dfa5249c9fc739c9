package coldstart

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The markers around the part of a document the tool writes.
const (
	BeginMarker = "<!-- coldstart:begin -->"
	EndMarker   = "<!-- coldstart:end -->"
)

// Row is one function's measurements.
type Row struct {
	Function  string
	Arm64Size int64 // bytes of the stripped linux/arm64 bootstrap
	Runs      []Result
	// DB is, per run, the time DynamoDB was busy within the first
	// invocation; empty leaves its column out.
	DB []time.Duration
	// Statuses are the HTTP status codes the runs answered, for the last
	// column; empty leaves it out.
	Statuses []int
	// Failures counts runs that did not give a result (and are left out).
	Failures int
}

// Spread is the median, minimum and maximum of some samples.
type Spread struct{ Median, Min, Max float64 }

// SpreadOf summarises samples; zero for none.
func SpreadOf(samples []float64) Spread {
	if len(samples) == 0 {
		return Spread{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Spread{Median: med, Min: s[0], Max: s[n-1]}
}

func (r Row) spread(f func(Result) float64) Spread {
	var v []float64
	for _, res := range r.Runs {
		v = append(v, f(res))
	}
	return SpreadOf(v)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// MiB is the size unit of the table, that of the 15 MB budget (15 << 20).
const MiB = 1 << 20

// Table renders the rows as a Markdown table: arm64 size, and init, first
// response and peak RSS on amd64 as median (min–max); when any row has them,
// also the DynamoDB time within the first response and the HTTP statuses.
func Table(rows []Row) string {
	withDB := slices.ContainsFunc(rows, func(r Row) bool { return len(r.DB) > 0 })
	withStatus := slices.ContainsFunc(rows, func(r Row) bool { return len(r.Statuses) > 0 })
	head := []string{"Function", "arm64 size (MiB)", "amd64 init to first `next` (ms)", "amd64 to first response (ms)"}
	align := []string{"---", "---:", "---:", "---:"}
	if withDB {
		head, align = append(head, "of which DynamoDB (ms)"), append(align, "---:")
	}
	head, align = append(head, "peak RSS (MiB)"), append(align, "---:")
	if withStatus {
		head, align = append(head, "HTTP status"), append(align, "---")
	}
	var b strings.Builder
	line := func(cells []string) { b.WriteString("| " + strings.Join(cells, " | ") + " |\n") }
	line(head)
	line(align)
	for _, r := range rows {
		name := r.Function
		if r.Failures > 0 {
			name += fmt.Sprintf(" (%d of %d runs failed)", r.Failures, r.Failures+len(r.Runs))
		}
		cells := []string{name, fmt.Sprintf("%.2f", float64(r.Arm64Size)/MiB)}
		if len(r.Runs) == 0 {
			for len(cells) < len(head) {
				cells = append(cells, "–")
			}
			line(cells)
			continue
		}
		cells = append(cells,
			r.spread(func(x Result) float64 { return ms(x.Init) }).String(),
			r.spread(func(x Result) float64 { return ms(x.FirstResponse) }).String())
		if withDB {
			var db []float64
			for _, d := range r.DB {
				db = append(db, ms(d))
			}
			cell := "–"
			if len(db) > 0 {
				cell = SpreadOf(db).String()
			}
			cells = append(cells, cell)
		}
		cells = append(cells, r.spread(func(x Result) float64 { return float64(x.PeakRSS) / MiB }).String())
		if withStatus {
			cells = append(cells, statusList(r.Statuses))
		}
		line(cells)
	}
	return b.String()
}

// String renders the spread as "median (min–max)" with one decimal.
func (s Spread) String() string {
	return fmt.Sprintf("%.1f (%.1f–%.1f)", s.Median, s.Min, s.Max)
}

// ReplaceSection puts section between the markers of doc, replacing what
// was there and keeping the rest of doc byte for byte. A doc without the
// markers gets them, with the section, at its end.
func ReplaceSection(doc, section string) (string, error) {
	body := BeginMarker + "\n" + strings.TrimRight(section, "\n") + "\n" + EndMarker
	i := strings.Index(doc, BeginMarker)
	j := strings.Index(doc, EndMarker)
	switch {
	case i < 0 && j < 0:
		if doc != "" && !strings.HasSuffix(doc, "\n") {
			doc += "\n"
		}
		if doc != "" {
			doc += "\n"
		}
		return doc + body + "\n", nil
	case i < 0 || j < 0 || j < i:
		return "", fmt.Errorf("the markers %s and %s are not a pair in this order", BeginMarker, EndMarker)
	case strings.Count(doc, BeginMarker) > 1 || strings.Count(doc, EndMarker) > 1:
		return "", fmt.Errorf("the markers %s and %s appear more than once", BeginMarker, EndMarker)
	}
	return doc[:i] + body + doc[j+len(EndMarker):], nil
}

// statusList renders codes in order of first appearance with counts, as
// "201, 200 ×4".
func statusList(codes []int) string {
	var order []int
	count := map[int]int{}
	for _, c := range codes {
		if count[c] == 0 {
			order = append(order, c)
		}
		count[c]++
	}
	var parts []string
	for _, c := range order {
		s := fmt.Sprint(c)
		if count[c] > 1 {
			s += fmt.Sprintf(" ×%d", count[c])
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}
