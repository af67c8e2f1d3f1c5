package procs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The kernel's process connector (linux/connector.h, linux/cn_proc.h):
// x/sys/unix has the netlink family but not these.
const (
	cnIdxProc         = 1 // CN_IDX_PROC, also the multicast group
	cnValProc         = 1 // CN_VAL_PROC
	procCNMcastListen = 1 // PROC_CN_MCAST_LISTEN

	procEventNone = 0x00000000
	procEventFork = 0x00000001
	procEventExec = 0x00000002
	procEventComm = 0x00000200
	procEventExit = 0x80000000

	cnMsgLen = 20 // struct cn_msg: id{idx,val}, seq, ack, len u16, flags u16
	// struct proc_event before its union: what, cpu, timestamp_ns.
	procEventHeader = 16
)

// procEvent is one decoded process event: what happened to which task.
// pid is the task (thread) ID, tgid its process; for a fork, the child's.
type procEvent struct {
	what      uint32
	pid, tgid int
}

// procConn is a netlink socket subscribed to the process connector. The fd
// is non-blocking and registered with the Go runtime's poller, so close
// unblocks a pending read.
type procConn struct {
	file *os.File
	buf  []byte
}

// openProcConn subscribes to process events. It needs CAP_NET_ADMIN in the
// initial user namespace, and to run in the initial network and PID
// namespaces (the kernel ignores, or refuses, a subscription from
// anywhere else), so it fails, and the index polls, without them.
func openProcConn() (*procConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("open a process connector socket: %w", err)
	}
	// A large receive buffer rides out bursts; past it the kernel drops
	// events and the read says ENOBUFS. SO_RCVBUFFORCE passes rmem_max
	// with CAP_NET_ADMIN; without it the plain option is capped.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("bind to the process connector: %w", err)
	}
	c := &procConn{file: os.NewFile(uintptr(fd), "proc-connector"), buf: make([]byte, 64<<10)}
	if err := c.control(fd, procCNMcastListen); err != nil {
		_ = c.close()
		return nil, err
	}
	return c, nil
}

// control sends op and waits for the kernel's acknowledgement, which
// carries its verdict: a kernel that ignores the request (outside the
// initial namespaces) sends none.
func (c *procConn) control(fd int, op uint32) error {
	msg := make([]byte, unix.NLMSG_HDRLEN+cnMsgLen+4)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], unix.NLMSG_DONE)
	binary.NativeEndian.PutUint32(msg[12:], uint32(os.Getpid()))
	cn := msg[unix.NLMSG_HDRLEN:]
	binary.NativeEndian.PutUint32(cn[0:], cnIdxProc)
	binary.NativeEndian.PutUint32(cn[4:], cnValProc)
	binary.NativeEndian.PutUint16(cn[16:], 4)
	binary.NativeEndian.PutUint32(cn[cnMsgLen:], op)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("subscribe to process events: %w", err)
	}
	if err := c.file.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		return fmt.Errorf("subscribe to process events: %w", err)
	}
	defer func() { _ = c.file.SetReadDeadline(time.Time{}) }()
	for {
		n, err := c.file.Read(c.buf)
		if errors.Is(err, unix.ENOBUFS) {
			continue
		}
		if err != nil {
			return fmt.Errorf("subscribe to process events: no acknowledgement from the kernel (not in the host's namespaces?): %w", err)
		}
		for _, m := range splitNetlink(c.buf[:n]) {
			if ack, ok := parseAck(m); ok {
				if ack != 0 {
					return fmt.Errorf("subscribe to process events: %w", unix.Errno(ack))
				}
				return nil
			}
		}
	}
}

// read waits for process events and appends them to into. It returns
// unix.ENOBUFS (wrapped) when the kernel dropped events because this
// socket's buffer was full.
func (c *procConn) read(into []procEvent) ([]procEvent, error) {
	n, err := c.file.Read(c.buf)
	if err != nil {
		return into, fmt.Errorf("read process events: %w", err)
	}
	for _, m := range splitNetlink(c.buf[:n]) {
		if ev, ok := parseProcEvent(m); ok {
			into = append(into, ev)
		}
	}
	return into, nil
}

func (c *procConn) close() error { return c.file.Close() }

// splitNetlink returns the payloads of the netlink messages in b.
func splitNetlink(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b[0:]))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			break
		}
		out = append(out, b[unix.NLMSG_HDRLEN:l])
		b = b[min(nlmAlign(l), len(b)):]
	}
	return out
}

func nlmAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// procEventData returns the connector message's proc_event: its type and
// the union after the header; ok is false for any other message.
func procEventData(m []byte) (what uint32, data []byte, ok bool) {
	if len(m) < cnMsgLen+procEventHeader ||
		binary.NativeEndian.Uint32(m[0:]) != cnIdxProc || binary.NativeEndian.Uint32(m[4:]) != cnValProc {
		return 0, nil, false
	}
	ev := m[cnMsgLen:]
	return binary.NativeEndian.Uint32(ev[0:]), ev[procEventHeader:], true
}

// parseAck reads the kernel's answer to a subscription: PROC_EVENT_NONE
// with an errno in the union's first field.
func parseAck(m []byte) (errno uint32, ok bool) {
	what, d, ok := procEventData(m)
	if !ok || what != procEventNone || len(d) < 4 {
		return 0, false
	}
	return binary.NativeEndian.Uint32(d), true
}

// parseProcEvent decodes the events the index uses: fork (the child),
// exec, comm (a new command name) and exit.
func parseProcEvent(m []byte) (procEvent, bool) {
	what, d, ok := procEventData(m)
	if !ok {
		return procEvent{}, false
	}
	field := func(i int) int { return int(binary.NativeEndian.Uint32(d[4*i:])) }
	switch what {
	case procEventFork: // parent_pid, parent_tgid, child_pid, child_tgid
		if len(d) >= 16 {
			return procEvent{what: what, pid: field(2), tgid: field(3)}, true
		}
	case procEventExec, procEventComm, procEventExit: // process_pid, process_tgid, …
		if len(d) >= 8 {
			return procEvent{what: what, pid: field(0), tgid: field(1)}, true
		}
	}
	return procEvent{}, false
}

// openEventsFunc opens the process event connection.
type openEventsFunc func() (*procConn, error)

// defaultOpenEvents is the kernel's process connector.
func defaultOpenEvents() (*procConn, error) { return openProcConn() }
