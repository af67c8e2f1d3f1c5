package bssctl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bss-api/bss-api/client"
)

func (a *app) newDelete() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete stored strategies by name",
		Long: `Delete each named strategy. The PIDs it won go to the next strategy that
matches them, or to none. A name that is not stored is an error (exit
status 3); the others are still deleted.`,
		Example: `  bssctl delete upf
  bssctl delete strategy-1 strategy-2`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: a.completeDefinitionNames,
	}
	cmd.RunE = func(cmd *cobra.Command, names []string) error {
		c, err := a.newClient()
		if err != nil {
			return err
		}
		var missing []string
		for _, name := range names {
			err := c.DeleteDefinition(cmd.Context(), name)
			switch {
			case errors.Is(err, client.ErrNotFound):
				missing = append(missing, fmt.Sprintf("%q", name))
				continue
			case err != nil:
				return err
			}
			fmt.Fprintf(a.io.Out, "strategy/%s deleted\n", name)
		}
		if len(missing) > 0 {
			return &notFoundError{fmt.Sprintf("no stored strategy named %s; see bssctl get definitions", strings.Join(missing, ", "))}
		}
		return nil
	}
	return cmd
}

// completeDefinitionNames completes the names of the stored strategies.
func (a *app) completeDefinitionNames(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	c, err := a.newClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	d, err := c.Definitions(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	given := map[string]bool{}
	for _, a := range args {
		given[a] = true
	}
	var names []string
	for _, s := range d.Strategies {
		if !given[s.Name] {
			names = append(names, s.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
