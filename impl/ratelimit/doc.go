// Package ratelimit limits request rates per client with a sliding-window counter.
//
// # Use from the registry
//
// Keep one [Classes] for the server and ask it once per request:
//
//	var limits ratelimit.Classes // zero value: documented defaults
//
//	ip := ratelimit.ClientIP(r, trustedProxies)
//	key := ratelimit.Key(user, ip) // user name when authenticated, else "ip:"+address
//	d := limits.Allow(ratelimit.ClassRead, key, now)
//	ratelimit.SetHeaders(w.Header(), d)
//	if !d.Allowed {
//		http.Error(w, "rate limited", http.StatusTooManyRequests)
//		return
//	}
//
// For logins, check the login class under the client key; the registry
// bounds guesses per account with its own lockout (failures per account
// and address, and per account), so that many addresses failing for one
// name do not lock its owner out everywhere.
//
// Time is always passed in, so tests step a fake clock and the hot path never
// reads the clock itself. A [Limiter]'s fields must be set before its first
// use and not changed afterwards.
//
// # Algorithm
//
// Time is cut into fixed windows of length W aligned to the Unix epoch. Each
// key keeps the number of admitted events in the current window (curr) and
// in the one before it (prev). An event at offset e into the current window
// is admitted when
//
//	curr + floor(prev*(W-e)/W) < L
//
// that is, the previous window's count is assumed to be spread evenly and
// only its still-overlapping share is charged. The check is exact integer
// arithmetic (128-bit products), so the bound below holds to the nanosecond.
// Memory per key is about 100 bytes (a cache-line slot and a map entry)
// plus the key itself.
//
// A check on a known key finds its slot in an immutable per-shard map
// without locking and then locks only that slot, so checks on different
// keys share no written memory and scale across cores. New keys take a
// per-shard lock and are published into the map in batches. One key's
// count is necessarily one point of serialization: a single hot key
// hammered from every core is bounded by moving its cache line between
// cores, which is why BenchmarkAllow/parallel/keys=1 is slower than serial.
//
// # Over-admission bound
//
// Each fixed window admits at most L events, so the long-run rate never
// exceeds L per W. A sliding interval [s, s+W) that is not itself a fixed
// window starts at offset g (0 < g < W) into some window k-1 and ends at
// offset g into window k. Call c the events window k-1 admitted. The n-th
// event (counting from 0) of window k at an offset e < g needs
// n < L - floor(c*(W-e)/W) <= L - floor(c*(W-g)/W), so window k admits at
// most L - floor(c*(W-g)/W) events before g, and the interval holds at most
//
//	c + L - floor(c*(W-g)/W) = L + ceil(c*g/W) <= L + ceil(L*g/W) <= 2L
//
// events. The bound 2L is tight: L events at the very end of window k-1
// followed by L events paced just above offsets 0, W/L, ..., (L-1)W/L of
// window k are all admitted and fit inside one interval of length W (when
// W/L is at least a few nanoseconds). So the worst case over-admits by a
// factor of two, the same as a fixed window, but only for a client that
// deliberately concentrates its traffic at a window edge; for traffic spread
// evenly the estimate is exact, and the cost is one slot per key rather
// than a log of timestamps. TestAdversarialBound replays that schedule and
// random edge bursts and checks the measured maximum against the bound.
package ratelimit
