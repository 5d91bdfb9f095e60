package dnscache

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"time"
)

// minAttempt is the least time one address gets when a deadline is shared
// among several, as net.Dialer does.
const minAttempt = 2 * time.Second

// Dialer returns a DialFunc that resolves the host of its address through
// r and dials the resolved addresses in order with fwd, returning the
// first connection made. fwd sees "ip:port" only, so a check it makes on
// the address (a net.Dialer's ControlContext) sees the address really
// dialed. Nil fwd means a zero net.Dialer's DialContext. IP literals go to
// fwd directly. When the context has a deadline it is shared among the
// remaining addresses, so one black-holed address does not use it all.
func (r *Resolver) Dialer(fwd DialFunc) DialFunc {
	if fwd == nil {
		fwd = new(net.Dialer).DialContext
	}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		if _, err := netip.ParseAddr(host); err == nil {
			return fwd(ctx, network, address)
		}
		addrs, err := r.LookupNetIP(ctx, host)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		var cands []netip.Addr
		for _, ip := range addrs {
			if fits(network, ip) {
				cands = append(cands, ip)
			}
		}
		if len(cands) == 0 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.AddrError{Err: "no suitable address", Addr: host}}
		}
		var first error
		for i, ip := range cands {
			actx, cancel := attemptContext(ctx, len(cands)-i)
			c, err := fwd(actx, network, net.JoinHostPort(ip.String(), port))
			cancel()
			if err == nil {
				return c, nil
			}
			if first == nil {
				first = err
			}
			if ctx.Err() != nil {
				break
			}
		}
		return nil, first
	}
}

// DialContext dials address, resolving its host through r; see Dialer.
func (r *Resolver) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return r.Dialer(nil)(ctx, network, address)
}

// fits reports whether ip can be dialed on network ("tcp4" wants IPv4).
func fits(network string, ip netip.Addr) bool {
	switch {
	case strings.HasSuffix(network, "4"):
		return ip.Unmap().Is4()
	case strings.HasSuffix(network, "6"):
		return !ip.Unmap().Is4()
	}
	return true
}

// attemptContext gives one of left remaining attempts its share of ctx's
// deadline, at least minAttempt.
func attemptContext(ctx context.Context, left int) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok || left <= 1 {
		return ctx, func() {}
	}
	share := time.Until(dl) / time.Duration(left)
	if share < minAttempt {
		share = minAttempt
	}
	if time.Now().Add(share).After(dl) {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, share)
}
