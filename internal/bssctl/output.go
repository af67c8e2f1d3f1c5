package bssctl

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/bss-api/bss-api/client"
	"github.com/bss-api/bss-api/internal/buildinfo"
)

func versionString() string { return buildinfo.Version() }

// Output formats of -o.
const (
	formatTable = ""
	formatWide  = "wide"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// outputFlag adds -o to cmd and returns where its value goes.
func outputFlag(cmd *cobra.Command, wide bool) *string {
	var v string
	help := "output format: json or yaml (default: a table)"
	if wide {
		help = "output format: wide (more columns), json or yaml (default: a table)"
	}
	cmd.Flags().StringVarP(&v, "output", "o", "", help)
	allowed := []string{"json", "yaml"}
	if wide {
		allowed = append(allowed, "wide")
	}
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(allowed, cobra.ShellCompDirectiveNoFileComp))
	return &v
}

// checkFormat rejects an -o value the command does not know.
func checkFormat(v string, wide bool) error {
	switch v {
	case formatTable, formatJSON, formatYAML:
		return nil
	case formatWide:
		if wide {
			return nil
		}
	}
	if wide {
		return usagef("-o %q: want wide, json or yaml", v)
	}
	return usagef("-o %q: want json or yaml", v)
}

// printData writes v as indented JSON or as YAML.
func printData(w io.Writer, format string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	if format == formatYAML {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
		_, err = w.Write(b)
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// table writes aligned columns: two spaces between them, as kubectl does.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

// row adds a row; an empty cell is shown as "-", and tabs or newlines in a
// cell (a command line, say) as spaces, so columns stay aligned.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			c = "-"
		}
		cells[i] = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// slice shows an execution_time (ns) as Go prints a duration: 20ms.
func slice(ns uint64) string { return time.Duration(ns).String() }

// level shows a priority level.
func level(p client.Priority) string { return fmt.Sprint(int(p)) }

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

// targets describes what a strategy targets, as one cell.
func targets(s client.Strategy) string {
	var parts []string
	if s.PID != 0 {
		parts = append(parts, fmt.Sprintf("pid=%d", s.PID))
	}
	if len(s.Namespaces) > 0 {
		parts = append(parts, "namespaces="+strings.Join(s.Namespaces, ","))
	}
	var sel []string
	for _, l := range s.Selectors {
		sel = append(sel, l.Key+"="+l.Value)
	}
	if ls := s.LabelSelector; ls != nil {
		for _, k := range sortedKeys(ls.MatchLabels) {
			sel = append(sel, k+"="+ls.MatchLabels[k])
		}
		for _, e := range ls.MatchExpressions {
			switch e.Operator {
			case "Exists":
				sel = append(sel, e.Key)
			case "DoesNotExist":
				sel = append(sel, "!"+e.Key)
			case "In":
				sel = append(sel, e.Key+" in ("+strings.Join(e.Values, ",")+")")
			case "NotIn":
				sel = append(sel, e.Key+" notin ("+strings.Join(e.Values, ",")+")")
			default:
				sel = append(sel, e.Key+" "+e.Operator+" ("+strings.Join(e.Values, ",")+")")
			}
		}
	}
	if len(sel) > 0 {
		parts = append(parts, "labels: "+strings.Join(sel, ","))
	}
	if s.CommandRegex != "" {
		parts = append(parts, "command=~"+s.CommandRegex)
	}
	return strings.Join(parts, " ")
}

// podName shows a pod as namespace/name; a pod without metadata by its UID.
func podName(namespace, name, uid string) string {
	switch {
	case name != "":
		return namespace + "/" + name
	case uid != "":
		return "uid:" + uid
	}
	return ""
}
