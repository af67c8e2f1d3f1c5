package main

import "syscall"

// childProcAttr puts the child in its own process group, so a terminal's ^C
// reaches only bss-load, which stops the child itself; Pdeathsig kills the
// child should bss-load die first.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
