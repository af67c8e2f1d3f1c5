package bssctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/bss-api/bss-api/client"
)

func (a *app) newApply() *cobra.Command {
	var file string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or replace strategies from a YAML or JSON file",
		Long: `Create or replace, by name, every strategy of FILE ("-": standard input).
Strategies not in the file are left as they are; a new strategy goes last
in the precedence order, a replaced one keeps its place.

FILE is YAML or JSON: one strategy, a list of them (what get definitions
-o yaml prints), or {strategies: [...]}; several YAML documents may be
separated by ---. Every strategy needs a name. The fields are the API's:
name, priority (0-20, or true/false), execution_time (ns), pid,
selectors, namespaces, label_selector, command_regex, threads, nodes.

The whole result is checked by the server (a preview) before anything is
written, so one bad strategy means nothing changes. A strategy equal to
the stored one is not written again ("unchanged").

--dry-run writes nothing: it shows, for each strategy, a diff against
what is stored, and the preview: what each strategy would match and win
on the server's node.`,
		Example: `  bssctl apply -f strategies.yaml
  bssctl apply -f strategies.yaml --dry-run
  bssctl get definitions -o yaml | sed 's/execution_time: 20000000/execution_time: 10000000/' | bssctl apply -f -
  echo '{"name":"loki","priority":2,"execution_time":5000000,"command_regex":"^loki$"}' | bssctl apply -f -`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", `YAML or JSON file of strategies ("-": standard input)`)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "write nothing: show the diff against what is stored and what each strategy would match")
	_ = cmd.MarkFlagRequired("filename")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		list, err := a.readStrategyFile(file)
		if err != nil {
			return err
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		return a.apply(cmd, c, file, list, dryRun)
	}
	return cmd
}

func (a *app) readStrategyFile(file string) ([]client.Strategy, error) {
	if file == "-" {
		return readStrategies(a.io.In, "standard input")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, usageErr(err)
	}
	defer f.Close()
	return readStrategies(f, file)
}

// change is what apply does to one strategy of the file.
type change struct {
	want   client.Strategy
	stored *client.Strategy // nil: created
	action string           // created, configured or unchanged
}

func (a *app) apply(cmd *cobra.Command, c *client.Client, file string, list []client.Strategy, dryRun bool) error {
	ctx := cmd.Context()
	defs, err := c.Definitions(ctx)
	if err != nil {
		return err
	}
	merged, stored := mergeStrategies(defs.Strategies, list)
	preview, err := c.Preview(ctx, merged)
	if err != nil {
		return explainPreviewError(err)
	}
	// A pid strategy written without nodes is stored with the server's
	// node: compare what would be stored, not what the file says.
	stamps := map[string][]string{}
	for _, s := range preview.Stamped {
		stamps[s.Strategy] = s.Nodes
	}
	changes := make([]change, len(list))
	for i, s := range list {
		if s.PID != 0 && len(s.Nodes) == 0 {
			s.Nodes = stamps[s.Name]
		}
		ch := change{want: s, stored: stored[s.Name], action: "created"}
		if ch.stored != nil {
			ch.action = "configured"
			if sameStrategy(*ch.stored, s) {
				ch.action = "unchanged"
			}
		}
		changes[i] = ch
	}
	if dryRun {
		return a.printDryRun(file, changes, preview)
	}
	for i, ch := range changes { // changes[i] is list[i]'s
		if ch.action != "unchanged" {
			if _, err := c.PutDefinition(ctx, ch.want.Name, list[i]); err != nil {
				return fmt.Errorf("strategy %q: %w", ch.want.Name, err)
			}
		}
		fmt.Fprintf(a.io.Out, "strategy/%s %s\n", ch.want.Name, ch.action)
	}
	return nil
}

// mergeStrategies is the stored list with list applied as apply applies
// it: a strategy of list replaces the stored one of its name in place, a
// new one goes last. stored maps the names of the readable stored
// strategies to them. Unreadable stored strategies that list does not
// replace are left out: the server skips them too.
func mergeStrategies(defs []client.Definition, list []client.Strategy) ([]client.Strategy, map[string]*client.Strategy) {
	byName := map[string]int{}
	for i, s := range list {
		byName[s.Name] = i
	}
	stored := map[string]*client.Strategy{}
	var merged []client.Strategy
	used := map[string]bool{}
	for _, d := range defs {
		if d.Unreadable == "" {
			s := d.Strategy
			stored[d.Name] = &s
		}
		if i, ok := byName[d.Name]; ok {
			merged = append(merged, list[i])
			used[d.Name] = true
			continue
		}
		if d.Unreadable == "" {
			merged = append(merged, d.Strategy)
		}
	}
	for _, s := range list {
		if !used[s.Name] {
			merged = append(merged, s)
		}
	}
	return merged, stored
}

var strategyIndex = regexp.MustCompile(`strategies\[\d+\] \(([^)]*)\)\.`)

// explainPreviewError names the strategy of a validation error by its name
// only: the index is of the merged list, which the user never wrote.
func explainPreviewError(err error) error {
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest {
		e := *apiErr
		e.Message = strategyIndex.ReplaceAllString(e.Message, `strategy "$1": `)
		return &e
	}
	return err
}

func sameStrategy(a, b client.Strategy) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

func (a *app) printDryRun(file string, changes []change, p *client.Preview) error {
	if file == "-" {
		file = "standard input"
	}
	for _, ch := range changes {
		fmt.Fprintf(a.io.Out, "strategy/%s %s (dry run)\n", ch.want.Name, ch.action)
		if ch.action == "unchanged" {
			continue
		}
		before, from := []string(nil), ch.want.Name+" (not stored)"
		if ch.stored != nil {
			before, from = yamlLines(*ch.stored), ch.want.Name+" (stored)"
		}
		after := yamlLines(ch.want)
		diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: before, B: after,
			FromFile: from, ToFile: ch.want.Name + " (" + file + ")", Context: 3,
		})
		if err != nil {
			return fmt.Errorf("diff: %w", err)
		}
		if _, err := io.WriteString(a.io.Out, indent(diff, "    ")); err != nil {
			return err
		}
	}
	fmt.Fprintln(a.io.Out)
	fmt.Fprintln(a.io.Out, "Preview (the stored strategies with these applied, on the server's node):")
	won := map[string][]string{}
	for _, e := range p.Scheduling {
		won[e.Strategy] = append(won[e.Strategy], fmt.Sprint(e.PID))
	}
	t := newTable(a.io.Out, "STRATEGY", "MATCHED", "WON", "PIDS WON")
	for _, s := range p.Strategies {
		t.row(s.Name, fmt.Sprint(s.Matched), fmt.Sprint(s.Won), abbreviate(won[s.Name], 8))
	}
	return t.flush()
}

// yamlLines is s as YAML, for a diff: lines with their newlines.
func yamlLines(s client.Strategy) []string {
	return difflib.SplitLines(strings.TrimSuffix(string(strategyYAML(s)), "\n"))
}

func strategyYAML(s client.Strategy) []byte {
	b, err := yaml.Marshal(s)
	if err != nil {
		return []byte(err.Error() + "\n")
	}
	return b
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}

// abbreviate joins at most n items, and says how many more there are.
func abbreviate(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ",")
	}
	return strings.Join(items[:n], ",") + fmt.Sprintf(" (+%d)", len(items)-n)
}
