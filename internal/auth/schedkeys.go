package auth

import (
	"bytes"
	"crypto"
	"fmt"
	"io"
	"os"
)

// ReadSchedulerPublicKey reads the public key schedulers must present
// (--scheduler-public-key-file): one PEM "PUBLIC KEY" block.
func ReadSchedulerPublicKey(path string) (crypto.PublicKey, error) {
	b, err := readBounded(path, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("scheduler public key: %w", err)
	}
	key, err := ParsePublicKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("scheduler public key %s: %w", path, err)
	}
	return key, nil
}

// ReadSigningKey reads a scheduler token signing key
// (--scheduler-token-key-file): the file's bytes, without surrounding
// white space, at least MinSigningKeyBytes of them. Every server given the
// same file accepts the others' tokens.
func ReadSigningKey(path string) ([]byte, error) {
	b, err := readBounded(path, maxSigningKeyBytes)
	if err != nil {
		return nil, fmt.Errorf("scheduler token key: %w", err)
	}
	key := bytes.TrimSpace(b)
	if len(key) < MinSigningKeyBytes {
		return nil, fmt.Errorf("scheduler token key %s: %d bytes; at least %d are needed (make one with: head -c 32 /dev/urandom | base64 > %s)",
			path, len(key), MinSigningKeyBytes, path)
	}
	return key, nil
}

// readBounded reads the file at path, refusing one larger than limit.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}
