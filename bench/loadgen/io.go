package loadgen

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The file, socket and descriptor loops. Each worker gets its own files,
// sockets or target descriptor, made by New; an operation is raw system
// calls on buffers and addresses prepared then, so it allocates nothing.

// msgSize is the payload of the UDP and TCP loops: a small message, so the
// loops measure the system calls rather than copying.
const msgSize = 64

// recvTimeout bounds a blocking receive: a datagram or segment that never
// arrives fails the run instead of hanging it.
const recvTimeout = 5 * time.Second

func (g *Generator) prepareFS() error {
	dir, err := os.MkdirTemp("", "vigil-loadgen-")
	if err != nil {
		return fmt.Errorf("making temporary directory: %w", err)
	}
	g.tmpDir = dir
	g.newOp = g.newFS
	return nil
}

// fsOp is one worker's file: created as a, renamed to b.
type fsOp struct {
	a, b *byte
}

func (g *Generator) newFS() (func() error, error) {
	n := strconv.Itoa(len(g.ops))
	nameA, nameB := "w"+n+"-a", "w"+n+"-b"
	g.files = append(g.files, nameA, nameB)
	a, err := unix.BytePtrFromString(filepath.Join(g.tmpDir, nameA))
	if err != nil {
		return nil, fmt.Errorf("converting fs loop path: %w", err)
	}
	b, err := unix.BytePtrFromString(filepath.Join(g.tmpDir, nameB))
	if err != nil {
		return nil, fmt.Errorf("converting fs loop path: %w", err)
	}
	o := &fsOp{a: a, b: b}
	return o.run, nil
}

// run creates, chmods, renames and removes the worker's file, by absolute
// path as most programs name files. O_EXCL: a file left by another run
// fails the loop rather than being measured as an overwrite.
func (o *fsOp) run() error {
	cwd := unix.AT_FDCWD // a variable: a negative constant does not convert to uintptr
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(o.a)),
		uintptr(unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC), 0o600, 0, 0)
	if errno != 0 {
		return fmt.Errorf("creating: %w", errno)
	}
	if err := unix.Close(int(fd)); err != nil {
		return fmt.Errorf("closing: %w", err)
	}
	if _, _, errno := unix.Syscall6(unix.SYS_FCHMODAT, uintptr(cwd), uintptr(unsafe.Pointer(o.a)), 0o640, 0, 0, 0); errno != 0 {
		return fmt.Errorf("chmod: %w", errno)
	}
	if _, _, errno := unix.Syscall6(unix.SYS_RENAMEAT, uintptr(cwd), uintptr(unsafe.Pointer(o.a)),
		uintptr(cwd), uintptr(unsafe.Pointer(o.b)), 0, 0); errno != 0 {
		return fmt.Errorf("renaming: %w", errno)
	}
	if _, _, errno := unix.Syscall(unix.SYS_UNLINKAT, uintptr(cwd), uintptr(unsafe.Pointer(o.b)), 0); errno != 0 {
		return fmt.Errorf("unlinking: %w", errno)
	}
	return nil
}

// loopbackSocket makes a socket of typ bound to 127.0.0.1 on a free port,
// recorded for Close, and returns it with its address, raw (as sendto takes
// it) and as a port number.
func (g *Generator) loopbackSocket(typ int) (int, unix.RawSockaddrInet4, int, error) {
	var raw unix.RawSockaddrInet4
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, raw, 0, fmt.Errorf("creating socket: %w", err)
	}
	g.fds = append(g.fds, fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return -1, raw, 0, fmt.Errorf("binding socket: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return -1, raw, 0, fmt.Errorf("reading socket address: %w", err)
	}
	in4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		return -1, raw, 0, fmt.Errorf("socket address %T is not IPv4", sa)
	}
	raw.Family = unix.AF_INET
	raw.Addr = in4.Addr
	// sin_port is in network byte order.
	p := (*[2]byte)(unsafe.Pointer(&raw.Port))
	p[0], p[1] = byte(in4.Port>>8), byte(in4.Port)
	return fd, raw, in4.Port, nil
}

// setRecvTimeout makes a blocking receive on fd give up after recvTimeout.
func setRecvTimeout(fd int) error {
	tv := unix.NsecToTimeval(recvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("setting SO_RCVTIMEO: %w", err)
	}
	return nil
}

// udpOp is one worker's pair of UDP sockets: tx sends to rx's address.
type udpOp struct {
	tx, rx  int
	to      unix.RawSockaddrInet4
	from    unix.RawSockaddrAny
	fromLen uint32
	out     [msgSize]byte
	in      [msgSize]byte
}

func (g *Generator) newUDP() (func() error, error) {
	tx, _, _, err := g.loopbackSocket(unix.SOCK_DGRAM)
	if err != nil {
		return nil, err
	}
	rx, to, _, err := g.loopbackSocket(unix.SOCK_DGRAM)
	if err != nil {
		return nil, err
	}
	if err := setRecvTimeout(rx); err != nil {
		return nil, err
	}
	o := &udpOp{tx: tx, rx: rx, to: to}
	copy(o.out[:], "vigil loadgen udp")
	return o.run, nil
}

// run sends one datagram to the receiving socket by address, as an
// unconnected client does, and receives it with its source address, as a
// server does.
func (o *udpOp) run() error {
	n, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(o.tx), uintptr(unsafe.Pointer(&o.out[0])), msgSize, 0,
		uintptr(unsafe.Pointer(&o.to)), unix.SizeofSockaddrInet4)
	if errno != 0 {
		return fmt.Errorf("sendto: %w", errno)
	}
	if n != msgSize {
		return fmt.Errorf("sendto sent %d of %d bytes", n, msgSize)
	}
	for {
		o.fromLen = unix.SizeofSockaddrAny
		n, _, errno = unix.Syscall6(unix.SYS_RECVFROM, uintptr(o.rx), uintptr(unsafe.Pointer(&o.in[0])), msgSize, 0,
			uintptr(unsafe.Pointer(&o.from)), uintptr(unsafe.Pointer(&o.fromLen)))
		// With SO_RCVTIMEO set, a signal interrupts the call instead of
		// restarting it.
		if errno != unix.EINTR {
			break
		}
	}
	if errno != 0 {
		return fmt.Errorf("recvfrom: %w", errno)
	}
	if n != msgSize {
		return fmt.Errorf("recvfrom received %d of %d bytes", n, msgSize)
	}
	return nil
}

// tcpOp is one worker's open loopback connection.
type tcpOp struct {
	client, server int
	out, in        [msgSize]byte
}

// newTCP opens the worker's connection: a listener of its own accepts one
// connection, then closes. The connect completes in the kernel's backlog,
// so one thread does both ends.
func (g *Generator) newTCP() (func() error, error) {
	ln, addr, port, err := g.loopbackSocket(unix.SOCK_STREAM)
	if err != nil {
		return nil, err
	}
	if err := unix.Listen(ln, 1); err != nil {
		return nil, fmt.Errorf("listening: %w", err)
	}
	client, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating client socket: %w", err)
	}
	g.fds = append(g.fds, client)
	// Without it, Nagle's algorithm would hold each small send until the
	// previous one's (delayed) acknowledgement.
	if err := unix.SetsockoptInt(client, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return nil, fmt.Errorf("setting TCP_NODELAY: %w", err)
	}
	if err := unix.Connect(client, &unix.SockaddrInet4{Addr: addr.Addr, Port: port}); err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	server, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("accepting: %w", err)
	}
	g.fds = append(g.fds, server)
	if err := setRecvTimeout(server); err != nil {
		return nil, err
	}
	o := &tcpOp{client: client, server: server}
	copy(o.out[:], "vigil loadgen tcp")
	return o.run, nil
}

// run sends one message from the client end and reads it whole at the
// server end, so nothing queues between operations.
func (o *tcpOp) run() error {
	n, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(o.client), uintptr(unsafe.Pointer(&o.out[0])), msgSize, 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("send: %w", errno)
	}
	if n != msgSize {
		return fmt.Errorf("send sent %d of %d bytes", n, msgSize)
	}
	for got := uintptr(0); got < msgSize; {
		n, _, errno = unix.Syscall6(unix.SYS_RECVFROM, uintptr(o.server), uintptr(unsafe.Pointer(&o.in[got])), msgSize-got, 0, 0, 0)
		switch {
		case errno == unix.EINTR:
		case errno != 0:
			return fmt.Errorf("recv: %w", errno)
		case n == 0:
			return errors.New("recv: connection closed")
		default:
			got += n
		}
	}
	return nil
}

// dup2Base is the lowest descriptor the dup2 loop duplicates onto: high
// enough that nothing else in the process has it.
const dup2Base = 100

func (g *Generator) prepareDup2() error {
	fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", os.DevNull, err)
	}
	g.fds = append(g.fds, fd)
	next := dup2Base
	g.newOp = func() (func() error, error) {
		target, err := freeFD(next)
		if err != nil {
			return nil, err
		}
		next = target + 1
		op := func() error {
			if errno := dup2(fd, target); errno != 0 {
				return fmt.Errorf("dup2 onto %d: %w", target, errno)
			}
			return nil
		}
		// The first dup2 opens the target, which stays open (each dup2
		// replaces it) until Close.
		if err := op(); err != nil {
			return nil, err
		}
		g.fds = append(g.fds, target)
		return op, nil
	}
	return nil
}

// freeFD returns the lowest descriptor from fd up that is not open.
func freeFD(fd int) (int, error) {
	for ; fd < dup2Base+1000; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); errors.Is(err, unix.EBADF) {
			return fd, nil
		}
	}
	return -1, fmt.Errorf("no free descriptor from %d to %d", dup2Base, fd)
}
