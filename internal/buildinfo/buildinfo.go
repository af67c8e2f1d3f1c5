// Package buildinfo reports the version of the running binary.
package buildinfo

import "runtime/debug"

// version is stamped at link time by hack/build.sh:
//
//	-ldflags "-X github.com/bss-api/bss-api/internal/buildinfo.version=v1.2.3"
//
// It is written only by the linker, never at run time.
var version string

// Version returns the stamped version, else the module version or VCS
// revision recorded by the Go toolchain, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		return "dev-" + rev + dirty
	}
	return "dev"
}
