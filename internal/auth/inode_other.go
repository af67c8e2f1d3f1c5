//go:build !unix

package auth

import "os"

// inodeOf returns 0: this system does not expose inode numbers.
func inodeOf(os.FileInfo) uint64 { return 0 }
