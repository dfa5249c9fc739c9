package bench

import (
	"fmt"
	"math"
	"sort"
)

// Spread is the median and range of some samples.
type Spread struct {
	Median, Min, Max float64
	N                int
}

// SpreadOf summarises samples (zero Spread for none).
func SpreadOf(samples []float64) Spread {
	if len(samples) == 0 {
		return Spread{}
	}
	s := append([]float64(nil), samples...)
	sort.Float64s(s)
	return Spread{Median: quantileSorted(s, 0.5), Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Median of samples (0 for none).
func Median(samples []float64) float64 { return SpreadOf(samples).Median }

// Quantile q (0..1) of samples by linear interpolation (0 for none).
func Quantile(samples []float64, q float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	s := append([]float64(nil), samples...)
	sort.Float64s(s)
	return quantileSorted(s, q)
}

func quantileSorted(s []float64, q float64) float64 {
	if len(s) == 1 {
		return s[0]
	}
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// Format prints "median (min–max)" with the given decimals, or just the
// value when all samples agree.
func (s Spread) Format(decimals int) string {
	f := func(v float64) string { return fmt.Sprintf("%.*f", decimals, v) }
	if s.N == 0 {
		return "–"
	}
	if f(s.Min) == f(s.Max) {
		return f(s.Median)
	}
	return f(s.Median) + " (" + f(s.Min) + "–" + f(s.Max) + ")"
}
