package bssctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/bss-api/bss-api/client"
)

func (a *app) newTop() *cobra.Command {
	var interval, window time.Duration
	var iterations int
	var plain bool
	cmd := &cobra.Command{
		Use:   "top",
		Short: "A live view of the scheduler: queue depth, dispatch rates, congestion",
		Long: `A live view of the scheduler's metrics, redrawn in place every --interval:
the queue depth (latest, and a sparkline over --window), dispatch rates,
congestion, when the scheduler last pushed, and how many PIDs have a
strategy. q or Ctrl-C quits.

When standard output is not a terminal (or with --plain), each refresh is
printed after the previous one, without terminal control codes.`,
		Example: `  bssctl top
  bssctl top --interval 1s --window 10m
  bssctl top --plain --iterations 3 > snapshot.txt`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "time between refreshes")
	cmd.Flags().DurationVar(&window, "window", time.Minute, "window of the rates and the sparkline")
	cmd.Flags().IntVar(&iterations, "iterations", 0, "stop after this many refreshes (0: until q or Ctrl-C)")
	cmd.Flags().BoolVar(&plain, "plain", false, "print each refresh below the last, without redrawing the screen")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if interval < 100*time.Millisecond {
			return usagef("--interval %s: want at least 100ms", interval)
		}
		if window < time.Second {
			return usagef("--window %s: want at least 1s", window)
		}
		if iterations < 0 {
			return usagef("--iterations %d: want 0 or more", iterations)
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		v := &topView{a: a, c: c, interval: interval, window: window}
		out, isFile := a.io.Out.(*os.File)
		if plain || !isFile || !term.IsTerminal(int(out.Fd())) {
			return v.runPlain(cmd.Context(), iterations)
		}
		return v.runTerminal(cmd.Context(), out, iterations)
	}
	return cmd
}

// topView collects and draws the frames of top.
type topView struct {
	a                *app
	c                *client.Client
	interval, window time.Duration
}

// frame is what one refresh shows.
type frame struct {
	at       time.Time
	latest   *client.LatestMetrics
	summary  *client.MetricsSummary
	queued   []uint64 // nr_queued over the window, oldest first
	resolved *client.Strategies
	errs     []string
}

func (v *topView) collect(ctx context.Context) frame {
	f := frame{at: v.a.now()}
	note := func(what string, err error) {
		if !errors.Is(err, context.Canceled) {
			f.errs = append(f.errs, what+": "+v.a.describe(err))
		}
	}
	var err error
	if f.latest, err = v.c.LatestMetrics(ctx); err != nil && !errors.Is(err, client.ErrNotFound) {
		note("latest sample", err)
		return f // the server is unreachable or refuses us: the rest would say the same
	}
	if f.summary, err = v.c.MetricsSummary(ctx, v.window); err != nil {
		note("summary", err)
	}
	if h, err := v.c.MetricsHistory(ctx, client.HistoryQuery{Since: v.window.String(), Limit: 10000}); err != nil {
		note("history", err)
	} else {
		for _, s := range h.Samples {
			f.queued = append(f.queued, s.NrQueued)
		}
	}
	if f.resolved, err = v.c.Strategies(ctx); err != nil {
		note("strategies", err)
	}
	return f
}

// render returns the lines of f, each at most width columns (0: any).
func (v *topView) render(f frame, width int) []string {
	server := v.c.BaseURL()
	node := ""
	if f.latest != nil {
		node = " (node " + f.latest.Node + ")"
	} else if f.summary != nil {
		node = " (node " + f.summary.Node + ")"
	}
	lines := []string{
		fmt.Sprintf("bssctl top - %s%s   %s", server, node, f.at.UTC().Format("15:04:05 UTC")),
		fmt.Sprintf("refresh every %s, rates over %s; q quits", v.interval, v.window),
		"",
	}
	if f.latest == nil && len(f.errs) == 0 {
		lines = append(lines, "No metrics yet: the scheduler has not posted a sample.")
	}
	if l := f.latest; l != nil {
		m := l.Metrics
		lines = append(lines, fmt.Sprintf("QUEUE        queued %-8d scheduled %-8d running %-8d online CPUs %d",
			m.NrQueued, m.NrScheduled, m.NrRunning, m.NrOnlineCPUs))
		if len(f.queued) > 0 {
			lines = append(lines, "  queued     "+sparkline(f.queued, 60)+fmt.Sprintf("  max %d", maxOf(f.queued)))
		}
		ago := f.at.Sub(m.ReceivedAt).Round(time.Second)
		lines = append(lines, fmt.Sprintf("LAST PUSH    %s (%s ago)", m.ReceivedAt.UTC().Format("15:04:05 UTC"), ago))
	}
	if s := f.summary; s != nil && s.Samples > 0 {
		lines = append(lines, "",
			fmt.Sprintf("DISPATCH/S   user %-9s kernel %-9s cancel %-9s bounce %-9s failed %s",
				rateOr(s.Rates, "nr_user_dispatches"), rateOr(s.Rates, "nr_kernel_dispatches"),
				rateOr(s.Rates, "nr_cancel_dispatches"), rateOr(s.Rates, "nr_bounce_dispatches"),
				rateOr(s.Rates, "nr_failed_dispatches")),
			fmt.Sprintf("CONGESTION   %s/s, %d in the last %s", rateOr(s.Rates, "nr_sched_congested"),
				s.Increases["nr_sched_congested"], v.window),
			fmt.Sprintf("SAMPLES      %d in the last %s, %d scheduler restarts", s.Samples, v.window, s.Resets))
		if g, ok := s.Gauges["nr_queued"]; ok {
			lines = append(lines, fmt.Sprintf("QUEUE DEPTH  min %d, avg %.1f, max %d", g.Min, g.Avg, g.Max))
		}
	}
	if r := f.resolved; r != nil {
		lines = append(lines, "", fmt.Sprintf("STRATEGIES   %d PIDs given a strategy (version %d)", len(r.Scheduling), r.Version))
	}
	if len(f.errs) > 0 {
		lines = append(lines, "")
		for _, e := range f.errs {
			lines = append(lines, "error: "+e)
		}
	}
	if width > 0 {
		for i, l := range lines {
			lines[i] = truncate(l, width)
		}
	}
	return lines
}

func (v *topView) runPlain(ctx context.Context, iterations int) error {
	ticker := time.NewTicker(v.interval)
	defer ticker.Stop()
	for i := 0; ; i++ {
		f := v.collect(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if i > 0 {
			fmt.Fprintln(v.a.io.Out)
		}
		if _, err := io.WriteString(v.a.io.Out, strings.Join(v.render(f, 0), "\n")+"\n"); err != nil {
			return err
		}
		if iterations > 0 && i+1 >= iterations {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// Terminal control sequences.
const (
	altScreenOn  = "\x1b[?1049h"
	altScreenOff = "\x1b[?1049l"
	cursorHide   = "\x1b[?25l"
	cursorShow   = "\x1b[?25h"
	home         = "\x1b[H"
	clearLine    = "\x1b[K"
	clearBelow   = "\x1b[J"
)

// runTerminal redraws the frame in place on the terminal out. When standard
// input is a terminal too, it is put in raw mode so that q (or Ctrl-C, which
// raw mode delivers as a key) quits at once.
func (v *topView) runTerminal(ctx context.Context, out *os.File, iterations int) error {
	var keys <-chan byte
	if in, ok := v.a.io.In.(*os.File); ok && term.IsTerminal(int(in.Fd())) {
		kr, err := startKeys(int(in.Fd()))
		if err == nil {
			defer kr.stop()
			keys = kr.keys
		}
	}
	fmt.Fprint(out, altScreenOn+cursorHide)
	defer fmt.Fprint(out, cursorShow+altScreenOff)
	ticker := time.NewTicker(v.interval)
	defer ticker.Stop()
	for i := 0; ; i++ {
		f := v.collect(ctx)
		if ctx.Err() != nil {
			return nil
		}
		width, height, err := term.GetSize(int(out.Fd()))
		if err != nil {
			width, height = 0, 0
		}
		lines := v.render(f, width)
		if height > 0 && len(lines) > height {
			lines = lines[:height]
		}
		var b strings.Builder
		b.WriteString(home)
		for _, l := range lines {
			b.WriteString(l + clearLine + "\r\n")
		}
		b.WriteString(clearBelow)
		if _, err := io.WriteString(out, b.String()); err != nil {
			return err
		}
		if iterations > 0 && i+1 >= iterations {
			return nil
		}
		if v.waitNext(ctx, ticker.C, keys) {
			return nil
		}
	}
}

// waitNext waits for the next refresh: a tick, or r or space. It reports
// true when the view should end: ctx is done, or q or Ctrl-C was pressed
// (3: Ctrl-C in raw mode), or the keys ended.
func (v *topView) waitNext(ctx context.Context, tick <-chan time.Time, keys <-chan byte) bool {
	for {
		select {
		case <-ctx.Done():
			return true
		case <-tick:
			return false
		case k, ok := <-keys:
			switch {
			case !ok, k == 'q', k == 'Q', k == 3:
				return true
			case k == 'r', k == ' ':
				return false
			}
		}
	}
}

// sparkline draws the last width values of vals, scaled to their maximum.
func sparkline(vals []uint64, width int) string {
	const bars = "▁▂▃▄▅▆▇█"
	runes := []rune(bars)
	if len(vals) > width {
		vals = vals[len(vals)-width:]
	}
	hi := maxOf(vals)
	var b strings.Builder
	for _, x := range vals {
		i := 0
		if hi > 0 {
			i = int(x * uint64(len(runes)-1) / hi)
		}
		b.WriteRune(runes[i])
	}
	return b.String()
}

func maxOf(vals []uint64) uint64 {
	var hi uint64
	for _, v := range vals {
		hi = max(hi, v)
	}
	return hi
}

func rateOr(rates map[string]float64, name string) string {
	if r := rate(rates, name); r != "" {
		return r
	}
	return "-"
}

// truncate cuts s to width columns (runes; the view uses no wide ones).
func truncate(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	return string([]rune(s)[:width])
}
