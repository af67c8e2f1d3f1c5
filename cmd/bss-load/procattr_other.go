//go:build !linux

package main

import "syscall"

// childProcAttr puts the child in its own process group, so a terminal's ^C
// reaches only bss-load, which stops the child itself. Only Linux can also
// kill the child when bss-load dies first.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
