//go:build unix

package auth

import (
	"os"
	"syscall"
)

// inodeOf returns the file's inode number, or 0 when the system does not say.
func inodeOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino) //nolint:unconvert // its type differs between systems
	}
	return 0
}
