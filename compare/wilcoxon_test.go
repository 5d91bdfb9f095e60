package compare

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"
)

// bruteSignedRank enumerates all 2^n sign assignments of |d| and returns
// P(W+ ≥ observed), with the same mid-ranks and zero rule.
func bruteSignedRank(d []float64) float64 {
	var abs []float64
	var pos []bool
	for _, v := range d {
		if v != 0 {
			abs = append(abs, math.Abs(v))
			pos = append(pos, v > 0)
		}
	}
	n := len(abs)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return abs[idx[a]] < abs[idx[b]] })
	rank := make([]float64, n)
	for i := 0; i < n; {
		j := i
		for j < n && abs[idx[j]] == abs[idx[i]] {
			j++
		}
		for k := i; k < j; k++ {
			rank[idx[k]] = float64(i+1+j) / 2
		}
		i = j
	}
	obs := 0.0
	for i := range n {
		if pos[i] {
			obs += rank[i]
		}
	}
	hits := 0
	for mask := range 1 << n {
		w := 0.0
		for i := range n {
			if mask&(1<<i) != 0 {
				w += rank[i]
			}
		}
		if w >= obs-1e-9 {
			hits++
		}
	}
	return float64(hits) / float64(int(1)<<n)
}

func TestWilcoxonExactMatchesEnumeration(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 1))
	for trial := range 300 {
		n := 1 + rng.IntN(12)
		d := make([]float64, n)
		for i := range d {
			// Few distinct magnitudes: heavy ties, some zeros.
			d[i] = float64(rng.IntN(5)-2) * 0.5
			if trial%3 == 0 {
				d[i] = rng.NormFloat64() + 0.3
			}
		}
		got := wilcoxonGreater(d).P
		want := bruteSignedRank(d)
		if math.Abs(got-want) > 1e-12 {
			t.Fatalf("d=%v: p=%v, enumeration %v", d, got, want)
		}
	}
}

func TestWilcoxonKnownValues(t *testing.T) {
	// All six positive: p = 2^-6.
	if p := wilcoxonGreater([]float64{1, 2, 3, 4, 5, 6}).P; p != 1.0/64 {
		t.Errorf("all positive: p=%v, want 1/64", p)
	}
	if p := wilcoxonGreater([]float64{-1, -2, -3}).P; p != 1 {
		t.Errorf("all negative: p=%v, want 1", p)
	}
	if p := wilcoxonGreater([]float64{0, 0}).P; p != 1 {
		t.Errorf("all zero: p=%v, want 1", p)
	}
	if n := pairsNeeded(0.05 / 40); n != 10 {
		t.Errorf("pairsNeeded(0.05/40) = %d, want 10", n)
	}
}

// TestWilcoxonTypeIError checks by simulation that symmetric noise centred
// on the null is rejected at most alpha of the time.
func TestWilcoxonTypeIError(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 2))
	const trials, alpha = 4000, 0.05
	for _, n := range []int{6, 10, 20} {
		rejected := 0
		for range trials {
			d := make([]float64, n)
			for i := range d {
				d[i] = rng.NormFloat64() * math.Exp(rng.NormFloat64()) // heavy-tailed, symmetric
			}
			if wilcoxonGreater(d).P <= alpha {
				rejected++
			}
		}
		// Binomial(4000, 0.05): mean 200, sd 14; allow 4 sd.
		if rejected > 256 {
			t.Errorf("n=%d: rejected %d/%d, above alpha %v", n, rejected, trials, alpha)
		}
	}
}

func TestPairedCompare(t *testing.T) {
	// Bursty load hits both halves of a round: the rounds differ by 3x,
	// the PR is 2% slower in every round. Unpaired, the burst hides it.
	var base, pr []byte
	hdr := "pkg: example.com/p\n"
	base, pr = []byte(hdr), []byte(hdr)
	for i := range 10 {
		load := 1 + 2*float64(i%3)
		base = append(base, []byte("BenchmarkX-2\t1000\t"+ftoa(100*load)+" ns/op\n")...)
		pr = append(pr, []byte("BenchmarkX-2\t1000\t"+ftoa(102*load)+" ns/op\n")...)
	}
	for _, paired := range []bool{false, true} {
		opts := DefaultOptions()
		opts.Paired = paired
		rep, err := Compare(Input{Name: "a", Data: base}, Input{Name: "b", Data: pr}, opts)
		if err != nil {
			t.Fatal(err)
		}
		m := rep.Benchmarks[0].Metrics[0]
		if got, want := m.Verdict == VerdictRegression, paired; got != want {
			t.Errorf("paired=%v: verdict %s (%s), want regression=%v", paired, m.Verdict, m.Reason, want)
		}
		if paired && (m.Method != "paired-exact" || len(m.LogRatios) != 10) {
			t.Errorf("paired: method %q, %d log ratios", m.Method, len(m.LogRatios))
		}
	}
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
