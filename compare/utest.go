package compare

import (
	"math"
	"sort"
)

// exactLimit is the largest per-side sample size for which the one-sided
// p-value comes from the exact permutation distribution. Past it the normal
// approximation is within a fraction of a percent, and the exact table
// (n1 × n1·N cells per tie group) starts to cost more than the benchmarks
// it judges.
const exactLimit = 50

// uTest is the outcome of a one-sided Mann-Whitney U test of
// H1: x is stochastically greater than y.
type uTest struct {
	// U counts the (x, y) pairs with x > y, plus one half per tie.
	U float64
	// P is P(U ≥ observed U) under H0 (x and y exchangeable), computed
	// conditionally on the observed tie pattern.
	P float64
	// Exact reports whether P comes from the exact permutation
	// distribution rather than the normal approximation.
	Exact bool
}

// mannWhitneyGreater tests whether x tends to be larger than y.
//
// benchmath only offers the two-sided test, and halving its p-value is
// wrong twice over: the exact distribution of U under ties is not symmetric,
// and the atom at the observed U must be counted once, in the upper tail.
// (go-moremath's LocationGreater, which benchmath is built on, computes
// 1-CDF(U-1); with ties U moves in steps of ½, so that also counts the atom
// at U-½ and overstates p.) So the tail is summed here directly from the
// exact conditional distribution of 2·R₁, which is an integer even with
// ties because a mid-rank is a multiple of ½.
func mannWhitneyGreater(x, y []float64) uTest {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return uTest{P: 1}
	}
	groups, twoR1 := rankGroups(x, y)
	u := float64(twoR1)/2 - float64(n1*(n1+1))/2
	if len(groups) == 1 {
		// Every value is equal: no permutation can show a difference.
		return uTest{U: u, P: 1, Exact: true}
	}
	if n1 <= exactLimit && n2 <= exactLimit {
		return uTest{U: u, P: exactUpperTail(groups, n1, twoR1), Exact: true}
	}
	return uTest{U: u, P: normalUpperTail(groups, n1, n2, u), Exact: false}
}

// tieGroup is a run of equal values in the merged sample, covering the
// 1-based ranks lo..hi.
type tieGroup struct {
	lo, hi int
	// fromX is how many of the run's values came from x.
	fromX int
}

func (g tieGroup) size() int { return g.hi - g.lo + 1 }

// rankGroups merges x and y and returns the tie groups in rank order and
// twice the rank sum of x (mid-ranks for ties).
func rankGroups(x, y []float64) (groups []tieGroup, twoR1 int) {
	type labeled struct {
		v   float64
		inX bool
	}
	all := make([]labeled, 0, len(x)+len(y))
	for _, v := range x {
		all = append(all, labeled{v, true})
	}
	for _, v := range y {
		all = append(all, labeled{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	for i := 0; i < len(all); {
		j := i
		g := tieGroup{lo: i + 1}
		for ; j < len(all) && all[j].v == all[i].v; j++ {
			if all[j].inX {
				g.fromX++
			}
		}
		g.hi = j
		groups = append(groups, g)
		twoR1 += g.fromX * (g.lo + g.hi)
		i = j
	}
	return groups, twoR1
}

// exactUpperTail returns P(2R₁ ≥ twoR1) when n1 of the pooled values are
// drawn at random for x, keeping the tie groups fixed.
//
// ways[k][s] counts the ways to pick k values for x out of the groups seen
// so far with 2·(rank sum) = s; a group of size t and mid-rank m contributes
// C(t, r) ways for each r of its values taken, adding 2·m·r. Counts are
// float64: C(100, 50) ≈ 1e29 is far inside its range and the tail is a ratio
// of sums of positive terms, so no cancellation can occur.
func exactUpperTail(groups []tieGroup, n1, twoR1 int) float64 {
	n := groups[len(groups)-1].hi
	maxS := n1 * (2*n - n1 + 1) // twice the sum of the n1 largest ranks
	ways := make([][]float64, n1+1)
	for k := range ways {
		ways[k] = make([]float64, maxS+1)
	}
	ways[0][0] = 1
	seen := 0
	for _, g := range groups {
		t, w := g.size(), g.lo+g.hi
		seen += t
		// Walk k downwards so ways[k-r] still holds the previous groups.
		for k := min(n1, seen); k >= 1; k-- {
			row := ways[k]
			for r := 1; r <= min(t, k); r++ {
				c := choose(t, r)
				src := ways[k-r]
				shift := r * w
				// k-r values from the earlier groups sum to at most
				// twice the k-r largest ranks seen before this group;
				// nothing above that can be non-zero.
				before := seen - t
				top := min(maxS-shift, (k-r)*(2*before-(k-r)+1))
				for s := 0; s <= top; s++ {
					if src[s] != 0 {
						row[s+shift] += c * src[s]
					}
				}
			}
		}
	}
	var tail, total float64
	for s, c := range ways[n1] {
		total += c
		if s >= twoR1 {
			tail += c
		}
	}
	return math.Min(1, tail/total)
}

// normalUpperTail approximates P(U ≥ u) with the tie-corrected variance and
// a continuity correction of ½ (the step of U when there are ties, and a
// conservative choice when there are none).
func normalUpperTail(groups []tieGroup, n1, n2 int, u float64) float64 {
	n := float64(n1 + n2)
	var ties float64
	for _, g := range groups {
		t := float64(g.size())
		ties += t*t*t - t
	}
	mean := float64(n1*n2) / 2
	sd := math.Sqrt(float64(n1*n2) / 12 * ((n + 1) - ties/(n*(n-1))))
	if sd == 0 {
		return 1
	}
	z := (u - mean - 0.5) / sd
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

// choose returns the binomial coefficient C(n, k) as a float64.
func choose(n, k int) float64 {
	if k < 0 || k > n {
		return 0
	}
	k = min(k, n-k)
	c := 1.0
	for i := 1; i <= k; i++ {
		c = c * float64(n-k+i) / float64(i)
	}
	return math.Round(c)
}

// minOneSidedP is the smallest p-value the one-sided test can produce with
// n1 and n2 untied samples: every x above every y, one arrangement out of
// C(n1+n2, n1).
func minOneSidedP(n1, n2 int) float64 {
	return 1 / choose(n1+n2, n1)
}

// countNeeded is the smallest -count (equal samples per side, at least
// minSamples) for which the one-sided test can reach p ≤ alpha.
func countNeeded(alpha float64) int {
	for n := minSamples; n < 1000; n++ {
		if minOneSidedP(n, n) <= alpha {
			return n
		}
	}
	return 1000
}

// holm returns Holm-Bonferroni adjusted p-values, in the order of p.
// Rejecting every hypothesis with adjusted p ≤ alpha keeps the chance of any
// false rejection at most alpha, whatever the dependence between the tests.
func holm(p []float64) []float64 {
	m := len(p)
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return p[order[a]] < p[order[b]] })
	adj := make([]float64, m)
	running := 0.0
	for rank, i := range order {
		a := math.Min(1, float64(m-rank)*p[i])
		running = math.Max(running, a)
		adj[i] = running
	}
	return adj
}
