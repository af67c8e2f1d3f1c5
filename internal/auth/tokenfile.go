package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// MinTokenBytes is the shortest static token the token file accepts: a
// token is a password, and a short one can be guessed.
const MinTokenBytes = 16

// tokenEntry is one line of the token file.
type tokenEntry struct {
	hash [sha256.Size]byte // of the token; zero for a certificate-only line
	role Role
	name string
}

// TokenFile is the static credentials file (--token-auth-file): one
// "token,role,name" per line, like kube-apiserver's token file; '#' starts
// a comment. A line with an empty token names a client certificate's
// subject (its common name) and gives it a role. The file is re-read when
// it changes (Run polls it); a file that no longer parses keeps the last
// good entries in force and is reported by Health.
//
// Tokens are kept only as SHA-256 digests and compared in constant time
// against every entry, so neither the digests nor the timing tell which
// tokens exist. Safe for concurrent use.
type TokenFile struct {
	path string
	log  *slog.Logger

	mu      sync.RWMutex
	entries []tokenEntry
	stamp   fileStamp
	loadErr error // of the last reload; nil when the file parsed
}

// LoadTokenFile reads the token file at path. An error names the line.
func LoadTokenFile(path string, log *slog.Logger) (*TokenFile, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stamp, err := stampOf(path)
	if err != nil {
		return nil, err
	}
	entries, err := readTokenFile(path)
	if err != nil {
		return nil, err
	}
	return &TokenFile{path: path, log: log, entries: entries, stamp: stamp}, nil
}

// Len returns how many lines are in force.
func (f *TokenFile) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.entries)
}

// AuthenticateToken implements TokenAuthenticator.
func (f *TokenFile) AuthenticateToken(_ context.Context, token string) (Identity, bool, error) {
	sum := sha256.Sum256([]byte(token))
	f.mu.RLock()
	defer f.mu.RUnlock()
	found := -1
	for i := range f.entries {
		e := &f.entries[i]
		// Every entry is compared, matched or not, certificate-only lines
		// (zero digest, which no token hashes to) included.
		if subtle.ConstantTimeCompare(sum[:], e.hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Identity{}, false, nil
	}
	e := f.entries[found]
	return Identity{Name: e.name, Method: MethodToken, Role: e.role}, true, nil
}

// AuthenticateCertificate implements CertificateAuthenticator: the leaf's
// common name is the name, its organizations the groups; the role is the
// one the file gives that name, or none (then only an Authorizer can allow
// it anything).
func (f *TokenFile) AuthenticateCertificate(_ context.Context, chain []*x509.Certificate) (Identity, bool, error) {
	return CertificateIdentity(chain, f.RoleOf), true, nil
}

// RoleOf returns the role the file gives name, or "".
func (f *TokenFile) RoleOf(name string) Role {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, e := range f.entries {
		if e.name == name {
			return e.role
		}
	}
	return ""
}

// CertificateIdentity is the identity of a verified chain's leaf: common
// name as the name, organizations as the groups, and the role roleOf
// gives the name (roleOf may be nil).
func CertificateIdentity(chain []*x509.Certificate, roleOf func(string) Role) Identity {
	leaf := chain[0]
	id := Identity{Name: leaf.Subject.CommonName, Groups: append([]string(nil), leaf.Subject.Organization...), Method: MethodCertificate}
	if roleOf != nil && id.Name != "" {
		id.Role = roleOf(id.Name)
	}
	return id
}

// Run re-reads the file every interval when it changed, until ctx is
// cancelled.
func (f *TokenFile) Run(ctx context.Context, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			f.reload()
		}
	}
}

// reload re-reads the file if its stamp moved.
func (f *TokenFile) reload() {
	stamp, err := stampOf(f.path)
	f.mu.RLock()
	same := err == nil && stamp == f.stamp
	f.mu.RUnlock()
	if same {
		return
	}
	var entries []tokenEntry
	if err == nil {
		entries, err = readTokenFile(f.path)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		if f.loadErr == nil || f.loadErr.Error() != err.Error() {
			f.log.Error("token file not reloaded; the previous credentials stay in force", "path", f.path, "err", err)
		}
		f.loadErr = err
		return
	}
	f.entries, f.stamp, f.loadErr = entries, stamp, nil
	f.log.Info("token file reloaded", "path", f.path, "entries", len(entries))
}

// Err returns why the last reload failed, or nil.
func (f *TokenFile) Err() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.loadErr
}

func readTokenFile(path string) ([]tokenEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	var entries []tokenEntry
	seenToken := map[[sha256.Size]byte]int{}
	roleOf := map[string]Role{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := fmt.Sprintf("token file %s line %d", path, n)
		fields := strings.Split(line, ",")
		if len(fields) != 3 {
			return nil, fmt.Errorf("%s: want token,role,name (3 fields), got %d", where, len(fields))
		}
		token, roleName, name := strings.TrimSpace(fields[0]), strings.TrimSpace(fields[1]), strings.TrimSpace(fields[2])
		role, ok := ParseRole(roleName)
		if !ok {
			return nil, fmt.Errorf("%s: role %q must be one of scheduler, viewer, operator", where, roleName)
		}
		if name == "" {
			return nil, fmt.Errorf("%s: the name is empty", where)
		}
		if r, dup := roleOf[name]; dup && r != role {
			return nil, fmt.Errorf("%s: %s has role %s on an earlier line; one name, one role", where, name, r)
		}
		roleOf[name] = role
		e := tokenEntry{role: role, name: name}
		if token != "" {
			if len(token) < MinTokenBytes {
				return nil, fmt.Errorf("%s: the token is %d bytes; at least %d are needed", where, len(token), MinTokenBytes)
			}
			e.hash = sha256.Sum256([]byte(token))
			if first, dup := seenToken[e.hash]; dup {
				return nil, fmt.Errorf("%s: the same token as line %d", where, first)
			}
			seenToken[e.hash] = n
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	return entries, nil
}

// fileStamp tells whether a file changed: a ConfigMap or Secret mount
// replaces it by renaming, which changes the inode; an editor may keep the
// inode but not the size or time.
type fileStamp struct {
	modTime time.Time
	size    int64
	inode   uint64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, fmt.Errorf("token file: %w", err)
	}
	return fileStamp{modTime: fi.ModTime(), size: fi.Size(), inode: inodeOf(fi)}, nil
}
