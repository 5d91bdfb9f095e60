package docs

import "sync"

// Feed fans changes out to subscribers; stores embed one to implement
// Store.Subscribe. The zero value is ready to use.
type Feed struct {
	mu   sync.Mutex
	next int
	subs map[int]func(Change)
}

// Subscribe adds fn; the returned function removes it, after which fn is
// not called again once any call in progress has returned.
func (f *Feed) Subscribe(fn func(Change)) (unsubscribe func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = make(map[int]func(Change))
	}
	id := f.next
	f.next++
	f.subs[id] = fn
	return func() {
		f.mu.Lock()
		delete(f.subs, id)
		f.mu.Unlock()
	}
}

// Publish calls every subscriber with c, in no particular order.
func (f *Feed) Publish(c Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fn := range f.subs {
		fn(c)
	}
}
