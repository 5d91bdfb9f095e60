package compare

import (
	"math"
	"sort"
)

// signedRankTest is the outcome of a one-sided Wilcoxon signed-rank test of
// H1: the differences d are centred above zero.
type signedRankTest struct {
	// W is the sum of the ranks of the positive differences (mid-ranks
	// for ties of |d|); zero differences are dropped (Wilcoxon's rule).
	W float64
	// N is the number of non-zero differences ranked.
	N int
	// P is P(W+ ≥ observed W+) under H0 (each difference's sign is a
	// fair coin), exact and conditional on the observed |d| ranks.
	P float64
}

// wilcoxonGreater tests whether the paired differences d tend to be
// positive. The null distribution is computed exactly for any n: under H0
// each non-zero difference is positive or negative with probability ½
// independently, so 2·W+ is a sum of independent terms 0 or 2·rank, and
// twice a mid-rank is an integer. A dynamic program over those terms gives
// the exact tail (probabilities, not counts, so nothing overflows).
func wilcoxonGreater(d []float64) signedRankTest {
	type term struct {
		abs float64
		pos bool
	}
	var ts []term
	for _, v := range d {
		if v != 0 && !math.IsNaN(v) {
			ts = append(ts, term{math.Abs(v), v > 0})
		}
	}
	n := len(ts)
	if n == 0 {
		return signedRankTest{P: 1}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].abs < ts[j].abs })
	twoRanks := make([]int, n)
	for i := 0; i < n; {
		j := i
		for j < n && ts[j].abs == ts[i].abs {
			j++
		}
		// Ranks i+1..j share the mid-rank (i+1+j)/2; twice it is i+1+j.
		for k := i; k < j; k++ {
			twoRanks[k] = i + 1 + j
		}
		i = j
	}
	twoW := 0
	total := 0
	for i, t := range ts {
		total += twoRanks[i]
		if t.pos {
			twoW += twoRanks[i]
		}
	}
	dist := make([]float64, total+1)
	dist[0] = 1
	reach := 0
	for _, r := range twoRanks {
		for s := reach; s >= 0; s-- {
			if dist[s] == 0 {
				continue
			}
			dist[s+r] += dist[s] / 2
			dist[s] /= 2
		}
		reach += r
	}
	p := 0.0
	for s := twoW; s <= total; s++ {
		p += dist[s]
	}
	return signedRankTest{W: float64(twoW) / 2, N: n, P: math.Min(1, p)}
}

// minSignedRankP is the smallest one-sided p-value n pairs can give: all
// differences positive.
func minSignedRankP(n int) float64 {
	return math.Pow(0.5, float64(n))
}

// pairsNeeded is the smallest n with 2^-n ≤ level.
func pairsNeeded(level float64) int {
	n := 1
	for minSignedRankP(n) > level && n < 1000 {
		n++
	}
	return n
}

// logRatios returns the per-round log ratios pr/base turned so that
// positive is worse (base/pr for a higher-is-better unit). Rounds where a
// value is not positive have no log ratio and are left out.
func logRatios(base, pr []float64, d Direction) []float64 {
	var out []float64
	for i := range base {
		if !(base[i] > 0 && pr[i] > 0) {
			continue
		}
		r := math.Log(pr[i]) - math.Log(base[i])
		if d == DirHigher {
			r = -r
		}
		out = append(out, r)
	}
	return out
}

// logMargin is the margin as a log ratio: a PR worse than the baseline
// median by margin has log ratio log(1 + margin/scale).
func logMargin(margin, scale float64) float64 {
	if scale <= 0 {
		return 0
	}
	return math.Log1p(margin / scale)
}
