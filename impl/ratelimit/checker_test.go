package ratelimit_test

import (
	"testing"
	"time"

	"github.com/bun13/bun13/impl/ratelimit"
	"github.com/bun13/bun13/impl/ratelimit/limittest"
)

func TestLocalConformance(t *testing.T) {
	limittest.Run(t, func(t *testing.T, n, limit int, window time.Duration) []ratelimit.Checker {
		l := &ratelimit.Limiter{Limit: limit, Window: window}
		cs := make([]ratelimit.Checker, n)
		for i := range cs {
			cs[i] = ratelimit.Local{L: l} // one process: the instances are one limiter
		}
		return cs
	})
}
