package bssctl

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

func (a *app) newConfig() *cobra.Command {
	cfg := &cobra.Command{
		Use:   "config",
		Short: "Show and change the config file's contexts",
		Long: `The config file ($BSSCTL_CONFIG, else $XDG_CONFIG_HOME/bssctl/config, else
~/.config/bssctl/config; --config overrides) holds named contexts, each a
server and its credentials, and the current one:

  current-context: node-1
  contexts:
  - name: node-1
    server: https://node-1:8443
    tokenFile: operator.token   # or token: ...
    caFile: ca.crt
    certFile: client.crt        # mTLS, with keyFile
    keyFile: client.key

Relative paths are relative to the file's directory. Flags win over
environment variables, which win over the context.`,
		Example: `  bssctl config set-context node-1 --server https://node-1:8443 --token-file ~/.bss/token --ca-file ca.crt
  bssctl config use-context node-1
  bssctl config get-contexts
  bssctl config view`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE("view, get-contexts, current-context, use-context, set-context, delete-context"),
	}
	cfg.AddCommand(a.newConfigView(), a.newConfigGetContexts(), a.newConfigCurrentContext(),
		a.newConfigUseContext(), a.newConfigSetContext(), a.newConfigDeleteContext())
	return cfg
}

func (a *app) loadConfigFile() (string, *configFile, error) {
	path := configPath(a.conn.config, a.io.Getenv)
	cfg, err := loadConfig(path)
	return path, cfg, err
}

func (a *app) newConfigView() *cobra.Command {
	var raw bool
	cmd := &cobra.Command{
		Use:   "view",
		Short: "Print the config file, tokens hidden",
		Example: `  bssctl config view
  bssctl config view --raw`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&raw, "raw", false, "show tokens too")
	cmd.RunE = func(*cobra.Command, []string) error {
		path, cfg, err := a.loadConfigFile()
		if err != nil {
			return err
		}
		if !raw {
			for i := range cfg.Contexts {
				if cfg.Contexts[i].Token != "" {
					cfg.Contexts[i].Token = "REDACTED"
				}
			}
		}
		if cfg.Contexts == nil {
			cfg.Contexts = []namedContext{}
		}
		b, err := yaml.Marshal(cfg)
		if err != nil {
			return fmt.Errorf("encode config: %w", err)
		}
		fmt.Fprintf(a.io.Out, "# %s\n%s", path, b)
		return nil
	}
	return cmd
}

func (a *app) newConfigGetContexts() *cobra.Command {
	return &cobra.Command{
		Use:     "get-contexts",
		Short:   "List the contexts; * marks the current one",
		Example: `  bssctl config get-contexts`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, cfg, err := a.loadConfigFile()
			if err != nil {
				return err
			}
			if len(cfg.Contexts) == 0 {
				fmt.Fprintln(a.io.Err, "No contexts; add one with bssctl config set-context.")
				return nil
			}
			t := newTable(a.io.Out, "CURRENT", "NAME", "SERVER", "CREDENTIAL")
			for _, c := range cfg.Contexts {
				cur := ""
				if c.Name == cfg.CurrentContext {
					cur = "*"
				}
				cred := ""
				switch {
				case c.Token != "":
					cred = "token"
				case c.TokenFile != "":
					cred = "tokenFile " + c.TokenFile
				case c.CertFile != "":
					cred = "certificate " + c.CertFile
				}
				t.row(cur, c.Name, c.Server, cred)
			}
			return t.flush()
		},
	}
}

func (a *app) newConfigCurrentContext() *cobra.Command {
	return &cobra.Command{
		Use:     "current-context",
		Short:   "Print the current context's name",
		Example: `  bssctl config current-context`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, cfg, err := a.loadConfigFile()
			if err != nil {
				return err
			}
			if cfg.CurrentContext == "" {
				return &notFoundError{"no current context; set one with bssctl config use-context NAME"}
			}
			fmt.Fprintln(a.io.Out, cfg.CurrentContext)
			return nil
		},
	}
}

func (a *app) newConfigUseContext() *cobra.Command {
	return &cobra.Command{
		Use:               "use-context NAME",
		Short:             "Make NAME the current context",
		Example:           `  bssctl config use-context node-1`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeContexts,
		RunE: func(_ *cobra.Command, args []string) error {
			path, cfg, err := a.loadConfigFile()
			if err != nil {
				return err
			}
			if cfg.context(args[0]) == nil {
				return usagef("no context %q in %s; add it with bssctl config set-context", args[0], path)
			}
			cfg.CurrentContext = args[0]
			if err := cfg.save(path); err != nil {
				return err
			}
			fmt.Fprintf(a.io.Out, "Switched to context %q.\n", args[0])
			return nil
		},
	}
}

func (a *app) newConfigSetContext() *cobra.Command {
	var use bool
	cmd := &cobra.Command{
		Use:   "set-context NAME [--server URL] [--token T | --token-file F] [--ca-file F] [--cert-file F --key-file F]",
		Short: "Create a context, or change the fields given of an existing one",
		Long: `Create the context NAME, or set the fields given on the command line in it
(--server, --token or --token-file, --ca-file, --cert-file, --key-file;
an empty value clears a field). File paths are stored as absolute paths.
The file is written readable by its owner only.`,
		Example: `  bssctl config set-context node-1 --server https://node-1:8443 --token-file ~/.bss/token --ca-file ca.crt --use
  bssctl config set-context local --server http://127.0.0.1:8080`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeContexts,
	}
	cmd.Flags().BoolVar(&use, "use", false, "also make it the current context")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		path, cfg, err := a.loadConfigFile()
		if err != nil {
			return err
		}
		ctx := cfg.context(args[0])
		created := ctx == nil
		if created {
			cfg.Contexts = append(cfg.Contexts, namedContext{Name: args[0]})
			ctx = &cfg.Contexts[len(cfg.Contexts)-1]
		}
		flags := cmd.Flags()
		set := func(flag string, field *string, value string, isPath bool) error {
			if !flags.Changed(flag) {
				return nil
			}
			if isPath && value != "" {
				abs, err := filepath.Abs(value)
				if err != nil {
					return usagef("--%s: %w", flag, err)
				}
				value = abs
			}
			*field = value
			return nil
		}
		for _, f := range []struct {
			flag   string
			field  *string
			value  string
			isPath bool
		}{
			{"server", &ctx.Server, a.conn.server, false},
			{"token", &ctx.Token, a.conn.token, false},
			{"token-file", &ctx.TokenFile, a.conn.tokenFile, true},
			{"ca-file", &ctx.CAFile, a.conn.caFile, true},
			{"cert-file", &ctx.CertFile, a.conn.certFile, true},
			{"key-file", &ctx.KeyFile, a.conn.keyFile, true},
		} {
			if err := set(f.flag, f.field, f.value, f.isPath); err != nil {
				return err
			}
		}
		switch {
		case flags.Changed("token") && a.conn.token != "":
			ctx.TokenFile = ""
		case flags.Changed("token-file") && a.conn.tokenFile != "":
			ctx.Token = ""
		}
		if use {
			cfg.CurrentContext = args[0]
		}
		if err := cfg.save(path); err != nil {
			return err
		}
		verb := "Modified"
		if created {
			verb = "Created"
		}
		fmt.Fprintf(a.io.Out, "%s context %q in %s.\n", verb, args[0], path)
		return nil
	}
	return cmd
}

func (a *app) newConfigDeleteContext() *cobra.Command {
	return &cobra.Command{
		Use:               "delete-context NAME",
		Short:             "Remove a context",
		Example:           `  bssctl config delete-context node-1`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeContexts,
		RunE: func(_ *cobra.Command, args []string) error {
			path, cfg, err := a.loadConfigFile()
			if err != nil {
				return err
			}
			kept := cfg.Contexts[:0]
			for _, c := range cfg.Contexts {
				if c.Name != args[0] {
					kept = append(kept, c)
				}
			}
			if len(kept) == len(cfg.Contexts) {
				return &notFoundError{fmt.Sprintf("no context %q in %s", args[0], path)}
			}
			cfg.Contexts = kept
			if cfg.CurrentContext == args[0] {
				cfg.CurrentContext = ""
			}
			if err := cfg.save(path); err != nil {
				return err
			}
			fmt.Fprintf(a.io.Out, "Deleted context %q.\n", args[0])
			return nil
		},
	}
}

func (a *app) completeContexts(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	_, cfg, err := a.loadConfigFile()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	var names []string
	for _, c := range cfg.Contexts {
		names = append(names, c.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
