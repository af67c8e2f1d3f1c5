package config

import (
	"flag"
	"fmt"
	"time"
)

// Storage is the configuration of the store's background work.
type Storage struct {
	// RetentionInterval is the period of the retention job: it deletes
	// the metric samples and audit records past their bounds and gives a
	// SQLite file's free space back. (The sample cap and age bound also
	// hold at every write.)
	RetentionInterval time.Duration
}

func defaultStorage() Storage {
	return Storage{RetentionInterval: time.Minute}
}

func (s *Storage) storageFlags(fs *flag.FlagSet) {
	fs.DurationVar(&s.RetentionInterval, "retention-interval", s.RetentionInterval,
		"period of the retention job, which deletes metric samples and audit records past their bounds and shrinks the SQLite file (the sample cap also holds at every write)")
}

func (s Storage) validateStorage() error {
	if s.RetentionInterval < 10*time.Millisecond {
		return fmt.Errorf("invalid --retention-interval %s: must be at least 10ms", s.RetentionInterval)
	}
	return nil
}
