// Package client is the Go client of bss-api, the per-node HTTP API that
// tells a sched_ext scheduler which processes to boost. A scheduler
// written in Go imports it instead of hand-writing the wire structs:
//
//	c, err := client.New("http://127.0.0.1:8080")
//	...
//	_, err = c.PostMetrics(ctx, client.Metrics{UserschedLastRunAt: lastRun, NrQueued: queued})
//	s, err := c.Strategies(ctx)
//	for _, e := range s.Scheduling {
//		apply(e.PID, e.Priority, e.ExecutionTime) // Priority is a level: 0 none, higher stronger
//	}
//
// Every method takes a context first and has its own wire types, so the
// package depends on nothing of the server. Priority decodes from the
// JSON bool of --priority-format=bool (true is 1) and from the integer
// level of --priority-format=int alike.
//
// # Poll or watch
//
// The seed's schedulers poll: call Strategies every few seconds and apply
// what it returns. A successful answer is always complete (a PID that is
// missing loses its boost); on any error keep the map you have. Send the
// last ETag with IfNoneMatch and an unchanged answer costs a 304
// (ErrNotModified) instead of the whole list.
//
// A watch learns of a change as soon as the server has it:
// WatchStrategies (and WatchPodPIDs) make blocking queries, each held by
// the server until the answer differs from the last one seen or the wait
// ends, and call a function with every new answer:
//
//	err := c.WatchStrategies(ctx, client.WatchOptions{}, func(s *client.Strategies) error {
//		apply(s.Scheduling)
//		return nil
//	})
//
// A 304, a 503 (the server has not resolved completely yet, after a
// start) and connection errors keep the previous answer; the watch retries
// with backoff until ctx ends. Against a server without blocking queries a
// watch polls every WatchOptions.MinInterval. For a loop of your own, call
// Strategies with WithWait and IfNoneMatch (or SinceVersion).
//
// # Credentials
//
// With no credential configured the server answers loopback clients only,
// and a client needs no option. Otherwise give one:
//
//   - WithBearerToken: a static token of the server's --token-auth-file.
//   - WithTokenFile: a Kubernetes ServiceAccount token, re-read from its
//     file as kubelet rotates it; the server checks it with a TokenReview
//     and RBAC.
//   - WithSchedulerKey: the scheduler token protocol. The client presents
//     the scheduler's public key (PEM) to POST /api/v1/auth/token, sends
//     the token, renews it before the expiry the server states, and asks
//     again at once when the server refuses it. Such a token carries the
//     scheduler role only: post metrics, read strategies and pods.
//   - WithTLSConfig: TLS, and mTLS with a client certificate whose
//     subject the server maps to a role.
//   - WithTokenSource, WithHTTPClient: anything else.
//
// # Errors and retries
//
// An answer with an error status is an *APIError carrying the status, the
// server's message (which names the offending field) and Retry-After; it
// matches ErrNotFound, ErrUnavailable and the other Err* variables with
// errors.Is. Requests are retried with jittered exponential backoff as
// RetryPolicy describes: 429 and 503 always (honouring Retry-After),
// connection errors for idempotent requests, and a metrics POST only when
// it failed before it was written, so a sample is never stored twice.
//
// Answers are asked for gzipped and decoded here, whatever the transport.
package client
