//go:build !unix

package bssctl

import "errors"

// keyReader is not available here: top ends with Ctrl-C only.
type keyReader struct{ keys chan byte }

func startKeys(int) (*keyReader, error) { return nil, errors.New("keys: not supported on this system") }

func (k *keyReader) stop() {}
