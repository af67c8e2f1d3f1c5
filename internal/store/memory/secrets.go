package memory

import (
	"bytes"
	"context"
	"sync"
)

// secrets holds the server's secrets in process memory: they are lost on
// exit. The zero value is empty and ready to use. Safe for concurrent use.
type secrets struct {
	mu     sync.Mutex
	values map[string][]byte
}

// get returns the secret called name, creating it with generate when there
// is none. generate runs under the lock, so it is called at most once per
// name that it creates.
func (m *secrets) get(name string, generate func() ([]byte, error)) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.values[name]; ok {
		return bytes.Clone(v), nil
	}
	v, err := generate()
	if err != nil {
		return nil, err
	}
	if m.values == nil {
		m.values = map[string][]byte{}
	}
	m.values[name] = bytes.Clone(v)
	return bytes.Clone(v), nil
}

// Secret implements store.Backend: the secret lives as long as the
// process.
func (s *Store) Secret(_ context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	return s.secrets.get(name, generate)
}
