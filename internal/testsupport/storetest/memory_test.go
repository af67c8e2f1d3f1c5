package storetest_test

import (
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/store/memory"
	"github.com/bss-api/bss-api/internal/testsupport/storetest"
	"github.com/bss-api/bss-api/internal/strategy"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T, maxCount int, maxAge time.Duration, now func() time.Time) storetest.Stores {
		return storetest.Stores{History: memory.NewHistory(maxCount, maxAge, now), Strategies: &strategy.MemoryStore{}}
	})
}
