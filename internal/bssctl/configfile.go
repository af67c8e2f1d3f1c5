package bssctl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// configFile is bssctl's config file: named contexts, like a kubeconfig,
// and the one in use.
//
//	current-context: node-1
//	contexts:
//	- name: node-1
//	  server: https://node-1:8443
//	  tokenFile: ~/.bss/operator.token
//	  caFile: ca.crt
type configFile struct {
	CurrentContext string         `json:"current-context,omitempty"`
	Contexts       []namedContext `json:"contexts"`
}

// namedContext is one server and the credentials for it. Relative file
// paths are relative to the config file's directory.
type namedContext struct {
	Name      string `json:"name"`
	Server    string `json:"server,omitempty"`
	Token     string `json:"token,omitempty"`
	TokenFile string `json:"tokenFile,omitempty"`
	CAFile    string `json:"caFile,omitempty"`
	CertFile  string `json:"certFile,omitempty"`
	KeyFile   string `json:"keyFile,omitempty"`
}

// configPath is where the config file is: --config, else $BSSCTL_CONFIG,
// else $XDG_CONFIG_HOME/bssctl/config, else ~/.config/bssctl/config. It is
// "" when none of these can be formed (no HOME).
func configPath(flag string, getenv func(string) string) string {
	switch {
	case flag != "":
		return flag
	case getenv("BSSCTL_CONFIG") != "":
		return getenv("BSSCTL_CONFIG")
	case getenv("XDG_CONFIG_HOME") != "":
		return filepath.Join(getenv("XDG_CONFIG_HOME"), "bssctl", "config")
	case getenv("HOME") != "":
		return filepath.Join(getenv("HOME"), ".config", "bssctl", "config")
	}
	return ""
}

// loadConfig reads the config file at path; a file that does not exist is
// an empty config. A file that does not parse, has unknown keys or names a
// context twice is a usage error.
func loadConfig(path string) (*configFile, error) {
	cfg := &configFile{}
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, usagef("config file: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, cfg); err != nil {
		return nil, usagef("config file %s: %s", path, oneLine(err.Error()))
	}
	seen := map[string]bool{}
	for i, c := range cfg.Contexts {
		if c.Name == "" {
			return nil, usagef("config file %s: contexts[%d] has no name", path, i)
		}
		if seen[c.Name] {
			return nil, usagef("config file %s: context %q is defined twice", path, c.Name)
		}
		seen[c.Name] = true
		if c.Token != "" && c.TokenFile != "" {
			return nil, usagef("config file %s: context %q has both token and tokenFile; keep one", path, c.Name)
		}
	}
	return cfg, nil
}

// context returns the context called name, or nil.
func (c *configFile) context(name string) *namedContext {
	for i := range c.Contexts {
		if c.Contexts[i].Name == name {
			return &c.Contexts[i]
		}
	}
	return nil
}

// save writes the config file at path, creating its directory; it is
// written readable by its owner only, as it may hold tokens.
func (c *configFile) save(path string) error {
	if path == "" {
		return usagef("no config file path: set --config or BSSCTL_CONFIG (HOME is not set)")
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	return nil
}
