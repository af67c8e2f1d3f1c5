package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strings"
)

// etags makes the entity tags of the cached endpoints. Every endpoint
// that serves a versioned snapshot names its representations with it, so
// that one server's tags never collide.
type etags struct {
	// epoch is random per server: snapshot versions restart at every
	// start, so without it a tag from before a restart could match
	// different content after it.
	epoch string
}

// newETags returns tags with a fresh epoch of 8 random hex digits.
func newETags() etags {
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return etags{epoch: hex.EncodeToString(b[:])}
}

// of names one representation: this server's epoch, the snapshot version
// and the query.
func (e etags) of(version uint64, query string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(query))
	return fmt.Sprintf(`"%s-%d-%08x"`, e.epoch, version, h.Sum32())
}

// matchesTag reports whether an If-None-Match value names tag.
func matchesTag(ifNoneMatch, tag string) bool {
	for t := range strings.SplitSeq(ifNoneMatch, ",") {
		t = strings.TrimSpace(t)
		if t == tag || t == "W/"+tag || t == "*" {
			return true
		}
	}
	return false
}
