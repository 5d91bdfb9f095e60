package compare

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/perf/benchmath"
)

// bruteUpperTail enumerates every way of drawing len(x) of the pooled values
// for x and counts those whose U is at least the observed one: the
// definition the exact distribution must match, ties included.
func bruteUpperTail(x, y []float64) float64 {
	pool := append(slices.Clone(x), y...)
	n, n1 := len(pool), len(x)
	uOf := func(inX []bool) float64 {
		var u float64
		for i := range n {
			if !inX[i] {
				continue
			}
			for j := range n {
				if inX[j] {
					continue
				}
				switch {
				case pool[i] > pool[j]:
					u++
				case pool[i] == pool[j]:
					u += 0.5
				}
			}
		}
		return u
	}
	obs := make([]bool, n)
	for i := range n1 {
		obs[i] = true
	}
	uObs := uOf(obs)
	var hit, total int
	for mask := 0; mask < 1<<n; mask++ {
		inX := make([]bool, n)
		k := 0
		for i := range n {
			if mask&(1<<i) != 0 {
				inX[i] = true
				k++
			}
		}
		if k != n1 {
			continue
		}
		total++
		if uOf(inX) >= uObs-1e-9 {
			hit++
		}
	}
	return float64(hit) / float64(total)
}

func TestExactTailMatchesEnumeration(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n1, n2 := 1+rng.IntN(6), 1+rng.IntN(6)
		// Few distinct values, so ties are the rule, not the exception.
		levels := 1 + rng.IntN(5)
		draw := func(n int, shift int) []float64 {
			v := make([]float64, n)
			for i := range v {
				v[i] = float64(rng.IntN(levels) + shift*rng.IntN(2))
			}
			return v
		}
		x, y := draw(n1, 1), draw(n2, 0)
		got := mannWhitneyGreater(x, y)
		want := bruteUpperTail(x, y)
		if math.Abs(got.P-want) > 1e-12 {
			t.Fatalf("trial %d: x=%v y=%v: P=%v, enumeration says %v", trial, x, y, got.P, want)
		}
	}
}

// Without ties the two one-sided tails must add up to benchmath's
// two-sided p-value, which it gets from the same exact distribution.
func TestTailsAgreeWithBenchmathTwoSided(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		n1, n2 := 2+rng.IntN(15), 2+rng.IntN(15)
		x, y := make([]float64, n1), make([]float64, n2)
		for i := range x {
			x[i] = rng.NormFloat64() + 0.7
		}
		for i := range y {
			y[i] = rng.NormFloat64()
		}
		greater := mannWhitneyGreater(x, y).P
		less := mannWhitneyGreater(y, x).P
		two := math.Min(1, 2*math.Min(greater, less))
		sx, sy := slices.Sorted(slices.Values(x)), slices.Sorted(slices.Values(y))
		want := benchmath.AssumeNothing.Compare(
			benchmath.NewSample(sy, &benchmath.DefaultThresholds),
			benchmath.NewSample(sx, &benchmath.DefaultThresholds)).P
		if math.Abs(two-want) > 1e-9 {
			t.Fatalf("trial %d (n=%d+%d): 2·min tail = %v, benchmath = %v", trial, n1, n2, two, want)
		}
	}
}

func TestNormalApproximationCloseToExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x, y := make([]float64, 40), make([]float64, 40)
	for i := range x {
		x[i] = rng.NormFloat64() + 0.15
		y[i] = rng.NormFloat64()
	}
	groups, twoR1 := rankGroups(x, y)
	exact := exactUpperTail(groups, len(x), twoR1)
	u := float64(twoR1)/2 - float64(len(x)*(len(x)+1))/2
	approx := normalUpperTail(groups, len(x), len(y), u)
	// Near the usual thresholds the approximation is good in absolute
	// terms (deep in the tail only its relative error grows).
	if exact < 0.001 || exact > 0.5 || math.Abs(exact-approx) > 0.005 {
		t.Errorf("normal approximation %v vs exact %v", approx, exact)
	}
	// Past the exact limit the normal path is taken.
	big := make([]float64, exactLimit+1)
	for i := range big {
		big[i] = float64(i)
	}
	if got := mannWhitneyGreater(big, big[:10]); got.Exact {
		t.Errorf("n=%d used the exact distribution", len(big))
	}
}

// Under H0 the test must reject at most alpha of the time; the exact
// discrete test is conservative, never liberal.
func TestTypeIErrorAtMostAlpha(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{4, 6, 10} {
		const sims = 4000
		rejected := 0
		for range sims {
			x, y := make([]float64, n), make([]float64, n)
			for i := range x {
				x[i] = rng.ExpFloat64()
				y[i] = rng.ExpFloat64()
			}
			if mannWhitneyGreater(x, y).P <= 0.05 {
				rejected++
			}
		}
		// 0.05 plus three binomial standard errors.
		if rate := float64(rejected) / sims; rate > 0.05+3*math.Sqrt(0.05*0.95/sims) {
			t.Errorf("n=%d: rejected %.3f of null samples at alpha 0.05", n, rate)
		}
	}
}

func TestAllTiedIsNeverSignificant(t *testing.T) {
	got := mannWhitneyGreater([]float64{3, 3, 3, 3}, []float64{3, 3, 3, 3})
	if d := cmp.Diff(uTest{U: 8, P: 1, Exact: true}, got); d != "" {
		t.Error(d)
	}
}

func TestCompleteSeparation(t *testing.T) {
	got := mannWhitneyGreater([]float64{5, 6, 7, 8}, []float64{1, 2, 3, 4})
	if d := cmp.Diff(uTest{U: 16, P: 1.0 / 70, Exact: true}, got, cmpopts.EquateApprox(0, 1e-15)); d != "" {
		t.Error(d)
	}
}

func TestHolm(t *testing.T) {
	got := holm([]float64{0.01, 0.04, 0.03, 0.005})
	// Sorted: 0.005×4=0.02, 0.01×3=0.03, 0.03×2=0.06, 0.04×1 → 0.06 (monotone).
	want := []float64{0.03, 0.06, 0.06, 0.02}
	if d := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-12)); d != "" {
		t.Error(d)
	}
	if d := cmp.Diff([]float64{}, holm([]float64{}), cmpopts.EquateEmpty()); d != "" {
		t.Error(d)
	}
}

func TestCountNeeded(t *testing.T) {
	for _, tc := range []struct {
		alpha float64
		want  int
	}{
		{0.05, 4},       // 1/70 ≈ 0.014
		{0.05 / 4, 5},   // 1/252 ≈ 0.0040 ≤ 0.0125; 1/70 is not
		{0.05 / 40, 6},  // 1/924 ≈ 0.00108 ≤ 0.00125
		{0.05 / 100, 7}, // 1/3432 ≈ 0.00029 ≤ 0.0005
	} {
		if got := countNeeded(tc.alpha); got != tc.want {
			t.Errorf("countNeeded(%v) = %d, want %d", tc.alpha, got, tc.want)
		}
	}
}

func BenchmarkExactUpperTail50(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	x, y := make([]float64, exactLimit), make([]float64, exactLimit)
	for i := range x {
		x[i], y[i] = rng.NormFloat64(), rng.NormFloat64()
	}
	for b.Loop() {
		mannWhitneyGreater(x, y)
	}
}
