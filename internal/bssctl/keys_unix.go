//go:build unix

package bssctl

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/term"
)

// keyReader reads key presses from a terminal in raw mode, until stop.
type keyReader struct {
	fd    int         // the terminal, as given
	f     *os.File    // a non-blocking duplicate of fd, so Close ends a pending Read
	state *term.State // the terminal's mode before raw mode
	keys  chan byte
	done  chan struct{} // closed when the reading goroutine has returned
}

// startKeys puts the terminal fd in raw mode and reads its keys on a
// goroutine that stop ends.
func startKeys(fd int) (*keyReader, error) {
	state, err := term.MakeRaw(fd)
	if err != nil {
		return nil, fmt.Errorf("raw mode: %w", err)
	}
	dup, err := syscall.Dup(fd)
	if err != nil {
		_ = term.Restore(fd, state)
		return nil, fmt.Errorf("dup terminal: %w", err)
	}
	// Non-blocking, the duplicate goes through the runtime's poller, so
	// closing it wakes the goroutine blocked reading it.
	if err := syscall.SetNonblock(dup, true); err != nil {
		_ = syscall.Close(dup)
		_ = term.Restore(fd, state)
		return nil, fmt.Errorf("terminal: %w", err)
	}
	k := &keyReader{fd: fd, f: os.NewFile(uintptr(dup), "terminal"), state: state,
		keys: make(chan byte, 16), done: make(chan struct{})}
	go k.read()
	return k, nil
}

func (k *keyReader) read() {
	defer close(k.done)
	defer close(k.keys)
	buf := make([]byte, 32)
	for {
		n, err := k.f.Read(buf)
		for _, b := range buf[:n] {
			select {
			case k.keys <- b:
			default: // nobody is reading keys that fast: drop them
			}
		}
		if err != nil {
			return
		}
	}
}

// stop ends the reading goroutine and gives the terminal back as it was.
// The non-blocking flag belongs to the terminal's open file, shared with
// fd and the shell, so it is cleared again.
func (k *keyReader) stop() {
	_ = k.f.Close()
	<-k.done
	_ = syscall.SetNonblock(k.fd, false)
	_ = term.Restore(k.fd, k.state)
}
