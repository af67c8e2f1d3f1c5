package memory_test

import (
	"testing"

	"github.com/bss-api/bss-api/internal/store"
	"github.com/bss-api/bss-api/internal/store/memory"
	"github.com/bss-api/bss-api/internal/testsupport/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(_ *testing.T, o storetest.Options) store.Backend {
		return memory.New(o.MaxCount, o.MaxAge, o.Now, o.Audit)
	})
}
