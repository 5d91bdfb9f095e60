// Package dashboard serves the registry's live dashboard: the /_dashboard page, its WebSocket and its JSON API.
//
// # Wiring
//
// A Dashboard is an http.Handler for every path under /_dashboard. It reads
// and changes the live config through a *config.Store, takes its numbers
// from a prometheus.Gatherer, asks a hook who a request is, and asks another
// for the DNS cache and uplink. It has no dependency on the registry, so the
// registry command wires it:
//
//	d, err := dashboard.New(ctx, dashboard.Options{
//		Store:      store,
//		Gatherer:   reg, // the *prometheus.Registry the registry's metrics live on
//		Registerer: reg, // the dashboard's own metrics, below
//		Authorize: func(r *http.Request) (string, bool) {
//			id, _ := registry.IdentityFrom(r.Context())
//			return id.User, id.Role == registry.RoleAdmin
//		},
//		Status: func() dashboard.Status {
//			return dashboard.Status{DNS: new(dashboard.DNSStatus(resolver.Stats())), Uplink: new(dashboard.UplinkStatus(up.Status()))}
//		},
//		RegistryURL: config.DefaultRegistry,
//		Logger:      log,
//	})
//	if err != nil { ... }
//	d.Mount(srv.Mux) // srv is the *registry.Server
//
// Every goroutine of the Dashboard ends with ctx, which also closes the
// WebSocket connections. DNSStatus and UplinkStatus have the fields of
// dnscache.Stats and proxy.Status, so a conversion is all the wiring they
// need; Status may leave either part nil when there is no DNS cache or no
// uplink. A wrapping ResponseWriter must reach the connection (Hijack, or
// Unwrap as the registry's does) for the WebSocket to open.
//
// # HTTP API
//
//	GET  /_dashboard                 the page (embedded HTML, CSS and JS; no build step)
//	GET  /_dashboard/api/config      {SPEC JSON fields..., "hex": 13 bytes, "checksum": "0x" + 16 hex}
//	POST /_dashboard/api/config      admin only; see below
//	GET  /_dashboard/api/env?format= shell, dotenv or json (config.Export)
//	GET  /_dashboard/api/metrics     Prometheus text from the Gatherer (404 while METRICS is clear)
//	GET  /_dashboard/api/stats       the latest Stats, with the request-rate history
//	GET  /_dashboard/api/fleet       the replicas and their config drift (heartbeat.Snapshot); 503 while the fleet store fails
//	POST /_dashboard/api/ticket      a single-use WebSocket ticket for the caller's identity
//	GET  /_dashboard/ws              the WebSocket
//
// POST /_dashboard/api/config takes a JSON object with any subset of the
// SPEC fields (version, registryHash, featureFlags, terminalMode, rows,
// cols), in their SPEC JSON form; the fields given replace the file's
// and the rest stay, so a full SPEC config and {"featureFlags":"0x000000b8"}
// are both valid bodies. With a Store backed by the lockfile
// (lockfile.Backing) the change is a read-modify-write of the file's bytes
// under its lock: it starts from the file as it is on disk at that moment,
// never from the in-memory copy, and the environment's overrides are never
// written. "checksum" and "hex", when present, are preconditions: they must
// describe the config on disk at that moment (as GET gave them: the live
// config, or the file's own under "file"), else 409 and nothing changes, so
// a GET-edit-POST cycle cannot undo someone else's change. "sources" and
// "file" (what GET shows beside the config) are ignored; other unknown keys
// are 400. The result is validated, persisted and published by
// Store.UpdateFrom("api", ...): 200 with the new GET body; an invalid config
// is 400 {"error": SPEC code, "offset": N, "detail": ...}; a lockfile on disk
// that is itself invalid is 409 {"error": "lockfile-invalid"}; a failed
// write is 500 {"error": "persist-failed"}; a caller who is not admin gets
// 403 (401 when anonymous).
//
// GET /_dashboard/api/config adds "sources" (per field, "file" or the
// BUN_CONFIG_* variable that overrides it) and, with Options.File, "file":
// the lockfile's state as the config watcher last read it (valid, applied,
// the SPEC error code and offset, the file's own hex and checksum). The
// page shows a banner while the file is not valid; Stats carry the same
// state as "configFile".
//
// # WebSocket protocol
//
// Binary messages are SPEC section 4 frames, text messages are JSON objects
// with a "type".
//
// On connect the server sends a {"type":"hello","user":...,"admin":...,
// "sources":{FIELD: "file" or the overriding variable}} text message (the
// page tags overridden fields), then the snapshot: one SET frame per config field (version,
// registryHash, featureFlags, terminalMode, rows, cols, in that order)
// followed by an ACK at offset 0 whose value is the config's header CRC64.
// A SNAPSHOT request is answered the same way. Every later change of the
// Store, whatever made it (this WebSocket, the POST API, anything else
// holding the Store), is sent to every client as a SET frame per changed
// field and the same closing ACK at offset 0; the client that made the
// change gets it too, so each client sees the changes in the Store's order
// whatever the timing of its own replies. Requests never use offset 0 except
// SNAPSHOT, so an ACK at offset 0 always means "the SETs before me describe
// the config with this CRC".
//
// A client request (SET, FLAGS_ENABLE, FLAGS_DISABLE) is answered with an
// ACK at the request's offset carrying the new header CRC64, or a NAK with
// the SPEC code: the decode error's code (1-4; a wrong length is 1), 2 for
// an ACK or NAK sent by the client, 5 when the client is not an admin, 6
// when the result is not a valid config, 7 when it could not be persisted,
// 8 when the connection sends frames faster than its limit. A request that
// changes nothing is ACKed and not broadcast.
//
// Stats go out as {"type":"stats", ...} text messages (the Stats type)
// every Interval. A terminal client (bun13 top) announces its terminal with
// {"type":"terminal","mode":"raw","rows":24,"cols":80} and, once it has put
// the terminal back, {"type":"terminal","restored":true}.
//
// Browsers cannot set an Authorization header on a WebSocket, so the page
// first POSTs /_dashboard/api/ticket (with its bearer token, if it has one)
// and opens /_dashboard/ws?ticket=T; the ticket carries the identity
// Authorize gave, is single-use and lasts 30 seconds. A ticket is signed
// and self-contained ("t1.KID.CLAIMS.SIG": Ed25519 over the identity,
// admin flag, client address, expiry and a random nonce, with the key
// Options.TicketKeys gives), so any replica sharing the key set redeems
// it; it opens one connection from the address it was issued to. Single
// use holds per process, and fleet-wide with Options.Redis (SET NX
// bun13:ticket:NONCE, expiring with the ticket; while Redis fails the
// local check decides alone, counted and logged once). Tickets are
// budgeted: 16 outstanding non-admin tickets per client address, 896 for
// all non-admins, and the last 128 of 1024 for authenticated admins, so
// anonymous clients cannot starve the admins. Without a ticket the
// WebSocket request itself is authorized. Origins are checked
// (same-origin unless OriginPatterns says more); messages over MaxMessage
// bytes close the connection; a client whose queue of MaxQueue messages is
// full is closed instead of waited for.
//
// # Metrics
//
// Registered on Options.Registerer:
//
//	bun_terminal_sessions{mode}        gauge: connected terminal clients by announced mode (none, cooked, raw)
//	bun_terminal_mode_leaks_total      counter: raw-mode clients that disconnected without announcing the terminal restored
//	bun_config_read_seconds            gauge: mean time of one Store.Load, timed over a batch every ProbeInterval
//	bun_dashboard_clients              gauge: open WebSocket connections
//	bun_dashboard_slow_clients_total   counter: connections closed because they did not keep up
//	bun_dashboard_frames_total{result} counter: client frames answered, by "ack" or NAK name
//	bun_dashboard_ticket_store_errors_total counter: ticket redemptions whose fleet-wide single-use check (Redis) failed
//
// The request numbers of Stats (rate, p50 and p99 from the latency
// histogram's bucket deltas, 4xx and 5xx) leave out routes beginning with
// "/_": watching the dashboard should not move its numbers.
package dashboard
