package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testSecrets holds Backend.Secret to its contract: get or create, the
// first value wins, a failed generate stores nothing, values are the
// caller's, and it works without Run.
func testSecrets(t *testing.T, newBackend New) {
	ctx := context.Background()
	// Every byte value, so a backend that treats the value as text fails.
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	calls := 0
	gen := func(v []byte) func() ([]byte, error) {
		return func() ([]byte, error) {
			calls++
			return bytes.Clone(v), nil
		}
	}

	t.Run("get or create", func(t *testing.T) {
		b := start(t, newBackend, Options{MaxCount: 10, MaxAge: time.Hour, Now: time.Now})
		calls = 0
		got, err := b.Secret(ctx, "key", gen(binary))
		if err != nil || !bytes.Equal(got, binary) || calls != 1 {
			t.Fatalf("first Secret = %x, %v after %d generate calls; want the generated value after 1", got, err, calls)
		}
		got[0] ^= 0xff // the caller's copy
		again, err := b.Secret(ctx, "key", gen([]byte("another value")))
		if err != nil || !bytes.Equal(again, binary) || calls != 1 {
			t.Errorf("second Secret = %x, %v after %d generate calls; want the stored value, generate not called", again, err, calls)
		}
		other, err := b.Secret(ctx, "other", gen([]byte("other value")))
		if err != nil || string(other) != "other value" {
			t.Errorf("Secret of another name = %q, %v", other, err)
		}
	})

	t.Run("a failed generate stores nothing", func(t *testing.T) {
		b := start(t, newBackend, Options{MaxCount: 10, MaxAge: time.Hour, Now: time.Now})
		boom := errors.New("no entropy")
		if v, err := b.Secret(ctx, "key", func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) || v != nil {
			t.Fatalf("Secret with a failing generate = %x, %v; want nil, %v", v, err, boom)
		}
		if v, err := b.Secret(ctx, "key", gen([]byte("second try"))); err != nil || string(v) != "second try" {
			t.Errorf("Secret after a failed generate = %q, %v; want the new value", v, err)
		}
	})

	t.Run("racing creators agree", func(t *testing.T) {
		b := start(t, newBackend, Options{MaxCount: 10, MaxAge: time.Hour, Now: time.Now})
		const n = 8
		got := make([][]byte, n)
		errs := make([]error, n)
		var generated atomic.Int64
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				got[i], errs[i] = b.Secret(ctx, "key", func() ([]byte, error) {
					generated.Add(1)
					return fmt.Appendf(nil, "value of caller %d", i), nil
				})
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || !bytes.Equal(got[i], got[0]) {
				t.Errorf("caller %d got %q, %v; caller 0 got %q", i, got[i], errs[i], got[0])
			}
		}
		t.Logf("%d racing callers, generate called %d times", n, generated.Load())
	})

	t.Run("works without Run", func(t *testing.T) {
		b := newBackend(t, Options{MaxCount: 10, MaxAge: time.Hour, Now: time.Now})
		t.Cleanup(func() {
			if err := b.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
		})
		if v, err := b.Secret(ctx, "key", gen([]byte("v"))); err != nil || string(v) != "v" {
			t.Errorf("Secret before Run = %q, %v", v, err)
		}
	})
}
