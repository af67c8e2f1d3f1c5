package config

import (
	"flag"
	"fmt"
)

// Values of --priority-format.
const (
	// PriorityFormatBool emits each resolved PID's priority as the seed's
	// true/false (level > 0), which the schedulers C1 to C4 decode.
	PriorityFormatBool = "bool"
	// PriorityFormatInt emits the integer level, which the current
	// scheduler (C5) decodes.
	PriorityFormatInt = "int"
)

// priorityFlags registers --priority-format. A node runs one scheduler,
// and no one JSON value decodes both as the bool of C1 to C4 and as the
// int of C5, so the server is told which form to emit; definitions read
// back as written either way.
func (c *Config) priorityFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.PriorityFormat, "priority-format", c.PriorityFormat,
		"how GET /api/v1/scheduling/strategies and previews emit each PID's priority: "+
			"bool (true when the level is above 0; schedulers before Feb 2026) or int (the integer level; current schedulers)")
}

func (c Config) validatePriorityFormat() error {
	switch c.PriorityFormat {
	case PriorityFormatBool, PriorityFormatInt:
		return nil
	}
	return fmt.Errorf("invalid --priority-format %q: must be bool (the seed's true/false) or int (the level, as current schedulers decode it)", c.PriorityFormat)
}
