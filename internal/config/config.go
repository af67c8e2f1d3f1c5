// Package config turns command-line flags and BSS_* environment variables
// into one validated Config. Flags win over environment variables, which win
// over the defaults. Every flag --some-name has the variable BSS_SOME_NAME.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the complete, validated configuration of one server process.
type Config struct {
	// Listen holds the HOST:PORT addresses to listen on. Unless --listen
	// or a full --port sets them, they are :8080 when a credential method
	// is configured, else loopback only (ListenDefaulted is then true).
	Listen          []string
	ListenDefaulted bool
	NodeName        string // this node's name; empty means "ask the OS for the hostname"

	LogLevel  string // debug, info, warn or error
	LogFormat string // text or json

	CORSOrigins  []string // allowed CORS origins; "*" allows any
	MaxBodyBytes int64    // request body limit

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	ShutdownTimeout   time.Duration

	HistoryRetention  time.Duration // samples older than this are dropped
	HistoryMaxSamples int           // at most this many samples are kept
	MetricsStaleness  time.Duration // scheduler series vanish from /metrics after this long without a push

	ProcRoot          string        // the host's /proc
	CgroupRoot        string        // the host's cgroup mount
	ReconcileInterval time.Duration // full /proc scan period
	PollInterval      time.Duration // container cgroup poll period

	KubeMode       string        // auto, in-cluster, kubeconfig, mock or off
	Kubeconfig     string        // the seed's --kubeconfig
	InCluster      bool          // the seed's --in-cluster
	MockPods       string        // mock metadata file
	KubeQPS        float64       // client-side rate limit
	KubeBurst      int           // client-side burst
	KubeResync     time.Duration // informer resync period
	KubeDeletedTTL time.Duration // how long deleted pods stay resolvable

	MaxStrategies  int    // strategies stored at most
	PriorityFormat string // how resolved priorities are emitted: bool or int (priority.go)

	Store   string // memory, sqlite, sqlite:PATH or a postgres:// URL
	DataDir string // where the default SQLite file lives

	Security
	Limits
	Storage
	Events
	Resources
	Readiness
	Watch
	Source

	ShowVersion bool
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		LogLevel:          "info",
		LogFormat:         "text",
		MaxBodyBytes:      1 << 20,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ShutdownTimeout:   15 * time.Second,
		HistoryRetention:  24 * time.Hour,
		HistoryMaxSamples: 100_000,
		MetricsStaleness:  60 * time.Second,
		ProcRoot:          "/proc",
		CgroupRoot:        "/sys/fs/cgroup",
		ReconcileInterval: 10 * time.Second,
		PollInterval:      500 * time.Millisecond,
		KubeMode:          "auto",
		KubeQPS:           20,
		KubeBurst:         40,
		KubeResync:        5 * time.Minute,
		KubeDeletedTTL:    2 * time.Minute,
		MaxStrategies:     1000,
		PriorityFormat:    PriorityFormatBool,
		Store:             "sqlite",
		DataDir:           "data",
		Security:          defaultSecurity(),
		Limits:            defaultLimits(),
		Storage:           defaultStorage(),
		Events:            defaultEvents(),
		Readiness:         defaultReadiness(),
		Resources:         defaultResources(),
		Watch:             defaultWatch(),
		Source:            defaultSource(),
	}
}

// ErrHelp is returned by Parse when -h or --help was given; usage has been
// written to the output.
var ErrHelp = flag.ErrHelp

// EnvName returns the environment variable that sets the flag name.
func EnvName(flagName string) string {
	return "BSS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse builds a Config from args (without the program name) and getenv.
// Usage text goes to out. The error names the flag or variable at fault.
func Parse(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	cfg := Default()
	fs := flag.NewFlagSet("bss-api", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: bss-api [flags]\n\nEvery flag --name can also be set with the environment variable BSS_NAME.\n\n")
		fs.PrintDefaults()
	}

	var port string
	var parsingArgs, listenInArgs bool
	fs.Func("listen", "comma-separated `HOST:PORT` addresses to listen on (default :8080 with a credential method, else 127.0.0.1:8080 and [::1]:8080)", func(s string) error {
		cfg.Listen = splitList(s)
		listenInArgs = parsingArgs
		return nil
	})
	fs.StringVar(&port, "port", "", "the original server's flag: `PORT` (on the default addresses), :PORT or HOST:PORT")
	fs.StringVar(&cfg.NodeName, "node-name", cfg.NodeName, "this node's name (default: $NODE_NAME, else the hostname)")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log format: text or json")
	fs.Func("cors-origins", "comma-separated allowed CORS `origins`; * allows any (default: none)", func(s string) error {
		cfg.CORSOrigins = splitList(s)
		return nil
	})
	fs.Func("max-body-bytes", "request body limit in `bytes` (suffixes KiB, MiB allowed) (default 1MiB)", func(s string) error {
		n, err := parseSize(s)
		cfg.MaxBodyBytes = n
		return err
	})
	fs.DurationVar(&cfg.ReadHeaderTimeout, "read-header-timeout", cfg.ReadHeaderTimeout, "time allowed to read request headers")
	fs.DurationVar(&cfg.ReadTimeout, "read-timeout", cfg.ReadTimeout, "time allowed to read a whole request")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", cfg.WriteTimeout, "time allowed to write a response")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "how long an idle keep-alive connection is kept")
	fs.Func("max-header-bytes", "request header limit in `bytes` (default 64KiB)", func(s string) error {
		n, err := parseSize(s)
		cfg.MaxHeaderBytes = int(n)
		return err
	})
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long in-flight requests may take to finish on shutdown")
	fs.DurationVar(&cfg.HistoryRetention, "history-retention", cfg.HistoryRetention, "how long metric samples are kept")
	fs.IntVar(&cfg.HistoryMaxSamples, "history-max-samples", cfg.HistoryMaxSamples, "how many metric samples are kept at most")
	fs.DurationVar(&cfg.MetricsStaleness, "metrics-staleness", cfg.MetricsStaleness, "scheduler series leave /metrics after this long without a push")
	fs.StringVar(&cfg.ProcRoot, "proc-root", cfg.ProcRoot, "the host's /proc (e.g. /host/proc in a container)")
	fs.StringVar(&cfg.CgroupRoot, "cgroup-root", cfg.CgroupRoot, "the host's cgroup mount")
	fs.DurationVar(&cfg.ReconcileInterval, "reconcile-interval", cfg.ReconcileInterval, "period of the full /proc scan that corrects the process index")
	fs.DurationVar(&cfg.PollInterval, "poll-interval", cfg.PollInterval, "period of the poll of container cgroups that keeps the process index fresh")
	fs.StringVar(&cfg.KubeMode, "kube-mode", cfg.KubeMode, "pod metadata source: auto, in-cluster, kubeconfig, mock or off")
	fs.StringVar(&cfg.Kubeconfig, "kubeconfig", cfg.Kubeconfig, "kubeconfig `file` (default: $KUBECONFIG, else ~/.kube/config)")
	fs.BoolVar(&cfg.InCluster, "in-cluster", cfg.InCluster, "use the pod's service account (same as --kube-mode=in-cluster)")
	fs.StringVar(&cfg.MockPods, "mock-pods", cfg.MockPods, "YAML or JSON `file` of pod metadata keyed by pod UID, for --kube-mode=mock")
	fs.Float64Var(&cfg.KubeQPS, "kube-qps", cfg.KubeQPS, "queries per second to the Kubernetes API server")
	fs.IntVar(&cfg.KubeBurst, "kube-burst", cfg.KubeBurst, "burst of queries to the Kubernetes API server")
	fs.DurationVar(&cfg.KubeResync, "kube-resync", cfg.KubeResync, "period in which the pod cache is replayed to make up for missed changes")
	fs.DurationVar(&cfg.KubeDeletedTTL, "kube-deleted-ttl", cfg.KubeDeletedTTL, "how long deleted pods stay resolvable")
	fs.IntVar(&cfg.MaxStrategies, "max-strategies", cfg.MaxStrategies, "strategies stored at most")
	fs.StringVar(&cfg.Store, "store", cfg.Store, "where strategies and metric history live: sqlite (in --data-dir), sqlite:PATH, postgres://USER:PASSWORD@HOST:PORT/DB (shared by nodes), or memory (lost on exit)")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "`directory` of the default SQLite store")
	cfg.flags(fs)
	cfg.limitFlags(fs)
	cfg.storageFlags(fs)
	cfg.eventFlags(fs)
	cfg.resourceFlags(fs)
	cfg.readinessFlags(fs)
	cfg.watchFlags(fs)
	cfg.sourceFlags(fs)
	cfg.priorityFlags(fs)
	fs.BoolVar(&cfg.ShowVersion, "version", false, "print the version and exit")

	// Environment first, so flags given on the command line override it.
	// --version is an action, not a setting: an image's BSS_VERSION (its
	// own version, say) must not turn the server into a version printer.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "version" {
			return
		}
		name := EnvName(f.Name)
		v := getenv(name)
		if v == "" || envErr != nil {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			envErr = fmt.Errorf("invalid %s=%q: %w", name, v, err)
		}
	})
	if envErr != nil {
		return Config{}, envErr
	}
	if cfg.NodeName == "" {
		cfg.NodeName = getenv("NODE_NAME") // the downward API's conventional name
	}
	parsingArgs = true
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, ErrHelp
		}
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q (flags look like --name=value)", fs.Arg(0))
	}
	if err := cfg.resolveListen(port, listenInArgs); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks every field and returns the first problem found.
func (c Config) Validate() error {
	if err := c.validateListen(); err != nil {
		return err
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("invalid --log-level %q: must be debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("invalid --log-format %q: must be text or json", c.LogFormat)
	}
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"read-header-timeout", c.ReadHeaderTimeout},
		{"read-timeout", c.ReadTimeout},
		{"write-timeout", c.WriteTimeout},
		{"idle-timeout", c.IdleTimeout},
		{"shutdown-timeout", c.ShutdownTimeout},
		{"history-retention", c.HistoryRetention},
		{"metrics-staleness", c.MetricsStaleness},
		{"reconcile-interval", c.ReconcileInterval},
		{"poll-interval", c.PollInterval},
		{"kube-resync", c.KubeResync},
		{"kube-deleted-ttl", c.KubeDeletedTTL},
	}
	for _, p := range positive {
		if p.d <= 0 {
			return fmt.Errorf("invalid --%s %s: must be greater than zero", p.name, p.d)
		}
	}
	if c.MaxBodyBytes < 64 {
		return fmt.Errorf("invalid --max-body-bytes %d: must be at least 64", c.MaxBodyBytes)
	}
	if c.MaxHeaderBytes < 1024 {
		return fmt.Errorf("invalid --max-header-bytes %d: must be at least 1024", c.MaxHeaderBytes)
	}
	if c.ProcRoot == "" || c.CgroupRoot == "" {
		return errors.New("invalid --proc-root or --cgroup-root: must not be empty")
	}
	if c.PollInterval < 10*time.Millisecond {
		return fmt.Errorf("invalid --poll-interval %s: must be at least 10ms", c.PollInterval)
	}
	switch c.KubeMode {
	case "auto", "in-cluster", "kubeconfig", "mock", "off":
	default:
		return fmt.Errorf("invalid --kube-mode %q: must be auto, in-cluster, kubeconfig, mock or off", c.KubeMode)
	}
	if c.MockPods != "" && c.KubeMode != "mock" && c.KubeMode != "auto" {
		return fmt.Errorf("--mock-pods needs --kube-mode=mock, not %s", c.KubeMode)
	}
	if c.KubeQPS <= 0 || c.KubeBurst < 1 {
		return fmt.Errorf("invalid --kube-qps %v / --kube-burst %d: must be positive", c.KubeQPS, c.KubeBurst)
	}
	if c.MaxStrategies < 1 || c.MaxStrategies > 100_000 {
		return fmt.Errorf("invalid --max-strategies %d: must be from 1 to 100000", c.MaxStrategies)
	}
	if _, _, err := c.StoreKind(); err != nil {
		return err
	}
	if c.HistoryMaxSamples < 1 {
		return fmt.Errorf("invalid --history-max-samples %d: must be at least 1", c.HistoryMaxSamples)
	}
	if err := c.validateLimits(); err != nil {
		return err
	}
	if err := c.validateEvents(); err != nil {
		return err
	}
	if err := c.validateStorage(); err != nil {
		return err
	}
	if err := c.validateResources(c.MaxBodyBytes); err != nil {
		return err
	}
	if err := c.validateReadiness(); err != nil {
		return err
	}
	if err := c.validateWatch(); err != nil {
		return err
	}
	if err := c.validateSource(c.KubeMode); err != nil {
		return err
	}
	if err := c.validatePriorityFormat(); err != nil {
		return err
	}
	return c.validate(c.KubeMode)
}

// StoreKind returns the store backend ("memory", "sqlite" or "postgres")
// and, for SQLite, the database file, for PostgreSQL the connection URL.
func (c Config) StoreKind() (kind, path string, err error) {
	switch {
	case c.Store == "memory":
		return "memory", "", nil
	case c.Store == "sqlite":
		if c.DataDir == "" {
			return "", "", errors.New("invalid --data-dir: must not be empty with --store=sqlite")
		}
		return "sqlite", filepath.Join(c.DataDir, "bss-api.db"), nil
	case strings.HasPrefix(c.Store, "sqlite:") && len(c.Store) > len("sqlite:"):
		return "sqlite", strings.TrimPrefix(c.Store, "sqlite:"), nil
	case strings.HasPrefix(c.Store, "postgres://") || strings.HasPrefix(c.Store, "postgresql://"):
		return "postgres", c.Store, nil
	}
	return "", "", fmt.Errorf("invalid --store %q: must be sqlite, sqlite:PATH, postgres://… or memory", redactURL(c.Store))
}

// redactURL hides a password in a connection URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parseSize reads a byte count with an optional KiB/MiB/GiB (or K/M/G) suffix.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	t := strings.TrimSpace(s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size in bytes (examples: 1048576, 512KiB, 1MiB)", s)
	}
	return n * mult, nil
}
