package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/testsupport/procfixture"
)

// errHelp reports that -h was given and usage was printed.
var errHelp = flag.ErrHelp

// seedBody is the seed's example POST /api/v1/metrics body.
const seedBody = `{"usersched_pid":1234,"nr_queued":10,"nr_scheduled":5,"nr_running":2,"nr_online_cpus":8,` +
	`"nr_user_dispatches":100,"nr_kernel_dispatches":50,"nr_cancel_dispatches":2,"nr_bounce_dispatches":1,` +
	`"nr_failed_dispatches":0,"nr_sched_congested":3}`

// options is the parsed command line.
type options struct {
	conns      int
	duration   time.Duration
	warmup     time.Duration
	target     target
	serverBin  string
	serverArgs []string
	url        string // empty: start bss-api as a child
	addr       string // HOST:PORT from url
	reference  bool
	// baselineArgs, when set, measure bss-api a second time with these
	// arguments instead of the reference server (e.g. --store=memory).
	baselineArgs []string
	jsonOut      bool
	// fixture sizes a synthetic /proc tree for bss-api's process index;
	// zero Processes means the machine's real /proc.
	fixture procfixture.Spec
	// strategies, when positive, are posted to bss-api before the load.
	strategies int
	// batch, when above 1, makes post-metrics send a JSON array of this
	// many samples per request.
	batch int

	// Hidden: run as the reference server.
	serveReference bool
	listen         string
}

// target is the request the load generator sends.
type target struct {
	name        string // as given to -target
	method      string
	path        string
	contentType string
	body        []byte
	gzip        bool // ask for a gzip-encoded response, as Go's HTTP client does
	// token, when set, is sent as Authorization: Bearer with every
	// request, to bss-api and to the reference server alike.
	token string
}

func parseOptions(args []string, out io.Writer) (options, error) {
	var o options
	var targetName, serverArgs string
	fs := flag.NewFlagSet("bss-load", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&o.conns, "c", 64, "concurrent keep-alive `connections`")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "`duration` of each measurement")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "`duration` of load before each measurement, not counted")
	fs.StringVar(&targetName, "target", "post-metrics", "request to drive: post-metrics, or get:/path")
	fs.StringVar(&o.serverBin, "server-bin", "", "`path` of a bss-api binary (default: build one from the module root)")
	fs.StringVar(&serverArgs, "server-args", "", "extra bss-api `arguments`, split on spaces")
	fs.StringVar(&o.url, "url", "", "measure the already-running server at http://127.0.0.1:PORT (no reference, no RSS)")
	fs.BoolVar(&o.reference, "reference", true, "also measure the minimal reference server")
	var baseline string
	fs.StringVar(&baseline, "baseline-args", "", "instead of the reference server, measure bss-api again with these `arguments` as the baseline (e.g. --store=memory)")
	fs.BoolVar(&o.target.gzip, "gzip", false, "send Accept-Encoding: gzip, as Go's HTTP client does by default")
	fs.StringVar(&o.target.token, "token", "", "send Authorization: Bearer `TOKEN` with every request (and the -strategies post); the server must know it, e.g. from -server-args --token-auth-file=FILE")
	fs.BoolVar(&o.jsonOut, "json", false, "also print the result as one JSON object")
	fs.IntVar(&o.fixture.Processes, "fixture-procs", 0, "run bss-api over a synthetic /proc with this many `processes` (0: the real /proc)")
	fs.IntVar(&o.fixture.Pods, "fixture-pods", 500, "pods in the synthetic /proc")
	fs.IntVar(&o.fixture.PodProcesses, "fixture-pod-procs", 10000, "processes in pods in the synthetic /proc")
	fs.IntVar(&o.fixture.Threads, "fixture-threads", 0, "extra threads per pod process in the synthetic /proc")
	fs.IntVar(&o.batch, "batch", 1, "with -target post-metrics, send a JSON array of this many `samples` per request (the report adds samples/s)")
	fs.IntVar(&o.strategies, "strategies", 0, "post this many `strategies` to bss-api before the load (command_regex ^app-0$ and ^app-1$, alternating)")
	fs.BoolVar(&o.serveReference, "serve-reference", false, "internal: run as the reference server")
	fs.StringVar(&o.listen, "listen", "", "internal: `HOST:PORT` of the reference server")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.serveReference {
		if err := checkLoopback(o.listen); err != nil {
			return o, fmt.Errorf("-listen: %w", err)
		}
		return o, nil
	}
	switch {
	case o.conns < 1 || o.conns > 10000:
		return o, fmt.Errorf("-c must be from 1 to 10000, got %d", o.conns)
	case o.duration <= 0:
		return o, fmt.Errorf("-d must be positive, got %s", o.duration)
	case o.warmup < 0:
		return o, fmt.Errorf("-warmup must not be negative, got %s", o.warmup)
	case o.batch < 1 || o.batch > metrics.MaxBatch:
		return o, fmt.Errorf("-batch must be from 1 to %d (the server's batch limit), got %d", metrics.MaxBatch, o.batch)
	}
	t, err := parseTarget(targetName)
	if err != nil {
		return o, fmt.Errorf("-target: %w", err)
	}
	if o.batch > 1 {
		if t.name != "post-metrics" {
			return o, fmt.Errorf("-batch needs -target post-metrics, got %q", t.name)
		}
		t.body = batchBody(o.batch)
	}
	if err := checkToken(o.target.token); err != nil {
		return o, fmt.Errorf("-token: %w", err)
	}
	t.gzip, t.token = o.target.gzip, o.target.token
	o.target = t
	o.serverArgs = strings.Fields(serverArgs)
	o.baselineArgs = strings.Fields(baseline)
	if o.url != "" {
		if o.addr, err = parseURL(o.url); err != nil {
			return o, fmt.Errorf("-url: %w", err)
		}
		o.reference = false
	}
	return o, nil
}

func parseTarget(s string) (target, error) {
	if s == "post-metrics" {
		return target{name: s, method: "POST", path: "/api/v1/metrics", contentType: "application/json", body: []byte(seedBody)}, nil
	}
	path, ok := strings.CutPrefix(s, "get:")
	if !ok {
		return target{}, fmt.Errorf("want post-metrics or get:/path, got %q", s)
	}
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n") {
		return target{}, fmt.Errorf("path must start with / and contain no spaces, got %q", path)
	}
	return target{name: s, method: "GET", path: path}, nil
}

// batchBody is a JSON array of n copies of the seed's sample: one
// all-or-nothing batch of n samples.
func batchBody(n int) []byte {
	b := make([]byte, 0, n*(len(seedBody)+1)+1)
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, seedBody...)
	}
	return append(b, ']')
}

// parseURL accepts only http://127.0.0.1:PORT and returns 127.0.0.1:PORT.
func parseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", s, err)
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("only http:// is supported, got %q", s)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	if err := checkLoopback(addr); err != nil {
		return "", err
	}
	return addr, nil
}

// checkLoopback accepts only 127.0.0.1:PORT: this tool never sends load
// anywhere else.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want 127.0.0.1:PORT, got %q: %w", addr, err)
	}
	if host != "127.0.0.1" || port == "" {
		return errors.New("only 127.0.0.1:PORT is allowed, got " + addr)
	}
	return nil
}

// checkToken accepts what a bearer token may be: visible ASCII, so it can
// go into a header line as it is.
func checkToken(token string) error {
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("byte %d is %q; a bearer token is visible ASCII without spaces", i, c)
		}
	}
	return nil
}
