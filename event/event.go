package event

import (
	"net/netip"
)

// Type is an event type as rules name it in `evt.type`.
type Type uint8

// The event types vigil produces. Their names are Falco's, so rule
// conditions such as `evt.type in (open, openat)` select them unchanged.
const (
	TypeUnknown Type = iota
	TypeExecve
	TypeExecveat
	TypeClone
	TypeProcExit
	TypeOpen
	TypeOpenat
	TypeOpenat2
	TypeCreat
	TypeConnect
	TypeSymlink
	TypeSymlinkat
	TypeLink
	TypeLinkat
	TypeSocket
	TypeDup
	TypeDup2
	TypeDup3
	TypeRename
	TypeRenameat
	TypeRenameat2
	TypeUnlink
	TypeUnlinkat
	TypeRmdir
	TypeMkdir
	TypeMkdirat
	TypeChmod
	TypeFchmod
	TypeFchmodat
	TypeAccept
	TypeAccept4
	TypeListen
	TypeBind
	TypePtrace
	TypeInitModule
	TypeFinitModule
	TypeSetns
	TypeUnshare
	TypeBpf
	TypeUserfaultfd
	TypeSetuid
	TypeSetgid
	TypeSetreuid
	TypeSetregid
	TypeSetresuid
	TypeSetresgid
	TypeCapset
	TypeOpenByHandleAt
	TypeIOUringSetup
	TypeIOUringSubmit
	TypeSendto
	TypeSendmsg
	TypeRecvfrom
	TypeRecvmsg
	numTypes
)

var typeNames = [numTypes]string{
	TypeUnknown:     "unknown",
	TypeExecve:      "execve",
	TypeExecveat:    "execveat",
	TypeClone:       "clone",
	TypeProcExit:    "procexit",
	TypeOpen:        "open",
	TypeOpenat:      "openat",
	TypeOpenat2:     "openat2",
	TypeCreat:       "creat",
	TypeConnect:     "connect",
	TypeSymlink:     "symlink",
	TypeSymlinkat:   "symlinkat",
	TypeLink:        "link",
	TypeLinkat:      "linkat",
	TypeSocket:      "socket",
	TypeDup:         "dup",
	TypeDup2:        "dup2",
	TypeDup3:        "dup3",
	TypeRename:      "rename",
	TypeRenameat:    "renameat",
	TypeRenameat2:   "renameat2",
	TypeUnlink:      "unlink",
	TypeUnlinkat:    "unlinkat",
	TypeRmdir:       "rmdir",
	TypeMkdir:       "mkdir",
	TypeMkdirat:     "mkdirat",
	TypeChmod:       "chmod",
	TypeFchmod:      "fchmod",
	TypeFchmodat:    "fchmodat",
	TypeAccept:      "accept",
	TypeAccept4:     "accept4",
	TypeListen:      "listen",
	TypeBind:        "bind",
	TypePtrace:      "ptrace",
	TypeInitModule:  "init_module",
	TypeFinitModule: "finit_module",
	TypeSetns:       "setns",
	TypeUnshare:     "unshare",
	TypeBpf:         "bpf",
	TypeUserfaultfd: "userfaultfd",
	TypeSetuid:      "setuid",
	TypeSetgid:      "setgid",
	TypeSetreuid:    "setreuid",
	TypeSetregid:    "setregid",
	TypeSetresuid:   "setresuid",
	TypeSetresgid:   "setresgid",
	TypeCapset:      "capset",

	TypeOpenByHandleAt: "open_by_handle_at",
	TypeIOUringSetup:   "io_uring_setup",
	TypeIOUringSubmit:  "io_uring_submit",
	TypeSendto:         "sendto",
	TypeSendmsg:        "sendmsg",
	TypeRecvfrom:       "recvfrom",
	TypeRecvmsg:        "recvmsg",
}

// NumTypes is the number of event types, for tables indexed by Type.
const NumTypes = int(numTypes)

// String returns the Falco name of t.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return typeNames[TypeUnknown]
}

// Kind is the kernel hook family that produces a type; the sensor enables or
// disables emission per kind.
func (t Type) Kind() Kind {
	switch t {
	case TypeExecve, TypeExecveat:
		return KindExec
	case TypeClone:
		return KindFork
	case TypeProcExit:
		return KindExit
	case TypeOpen, TypeOpenat, TypeOpenat2, TypeCreat, TypeOpenByHandleAt:
		return KindOpen
	case TypeConnect:
		return KindConnect
	case TypeSymlink, TypeSymlinkat, TypeLink, TypeLinkat, TypeRename, TypeRenameat, TypeRenameat2,
		TypeUnlink, TypeUnlinkat, TypeRmdir, TypeMkdir, TypeMkdirat, TypeChmod, TypeFchmod, TypeFchmodat:
		return KindFS
	case TypeSocket, TypeAccept, TypeAccept4, TypeListen, TypeBind:
		return KindSocket
	case TypeDup, TypeDup2, TypeDup3:
		return KindDup
	case TypePtrace, TypeInitModule, TypeFinitModule, TypeSetns, TypeUnshare, TypeBpf, TypeUserfaultfd:
		return KindPriv
	case TypeSetuid, TypeSetgid, TypeSetreuid, TypeSetregid, TypeSetresuid, TypeSetresgid, TypeCapset:
		return KindCred
	case TypeSendto, TypeSendmsg, TypeRecvfrom, TypeRecvmsg:
		return KindSendRecv
	case TypeIOUringSetup, TypeIOUringSubmit:
		return KindIOUring
	}
	return KindUnknown
}

// TypeByName maps a Falco event type name to a Type. ok is false for names
// vigil does not produce (for example "sendfile" or "sendmmsg").
func TypeByName(name string) (t Type, ok bool) {
	for i, n := range typeNames {
		if i != int(TypeUnknown) && n == name {
			return Type(i), true
		}
	}
	return TypeUnknown, false
}

// Kind groups event types by the kernel hooks that produce them.
type Kind uint8

// Kinds, in the order of the kernel's per-kind counters (bpf/events.h).
const (
	KindUnknown Kind = iota
	KindExec
	KindFork
	KindExit
	KindOpen
	KindConnect
	KindFS
	KindSocket
	KindDup
	KindPriv
	KindCred
	KindSendRecv
	KindIOUring
	numKinds
)

// NumKinds is the number of kinds, for tables indexed by Kind.
const NumKinds = int(numKinds)

var kindNames = [numKinds]string{"unknown", "exec", "fork", "exit", "open", "connect", "fs", "socket", "dup", "priv", "cred", "sendrecv", "iouring"}

// String returns the kind's lower-case name, as used in metrics and drop records.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return kindNames[KindUnknown]
}

// Event is one decoded kernel record with its process and container. Exactly
// one of Open, Connect, Exec, FS, Socket, Dup, SendRecv and IOUring is meaningful,
// chosen by Type.
type Event struct {
	Type Type
	// Num is the sensor's sequence number for the event (evt.num).
	Num uint64
	// Time is the event time in nanoseconds since the Unix epoch.
	Time int64
	CPU  uint32
	// PID and TID are the thread-group id and thread id as seen from the
	// initial pid namespace.
	PID, TID uint32
	CgroupID uint64
	// Res is the syscall's return value: a file descriptor or 0 on success,
	// a negative errno on failure.
	Res int64

	// Proc is the process that caused the event; the sensor never leaves it
	// nil. For a successful exec it is already the new image.
	Proc *Process
	// Container is the container the process runs in, nil on the host.
	Container *Container

	Open    Open
	Connect Connect
	Exec    Exec
	Priv    Priv
	FS      FS
	Socket  SocketCall
	Dup     Dup
	// SendRecv is the payload of sendto, sendmsg, recvfrom and recvmsg.
	SendRecv SendRecv
	IOUring  IOUring

	// HostNames resolves the fd.*ip.name fields; nil resolves nothing.
	HostNames *HostNames
	// Identities names the files the rules name by identity
	// (fd.identity); nil names none.
	Identities *FileIdentities

	// derived holds strings rendered on first use by field extractors
	// (flags, socket tuples), in buffers kept across Reset.
	derived derived
}

// derived caches one rendering per event for each field that is not a plain
// slice of the record, so repeated reads cost nothing and allocate nothing
// once the buffers have grown.
type derived struct {
	flags, tuple     []byte
	flagsOK, tupleOK bool
	// mode is evt.arg.mode rendered (fields_fsop.go).
	mode   []byte
	modeOK bool
}

// Reset clears e for reuse, keeping the capacity of its buffers. Each
// kind's decoder writes only its own payload, so only the payload of e's
// kind is cleared: the Event holds one of each, and zeroing all of them
// for every event cost a third of an open's decode.
func (e *Event) Reset() {
	switch e.Type.Kind() {
	case KindExec:
		e.Exec = Exec{Filename: e.Exec.Filename[:0]}
	case KindFork, KindExit:
	case KindOpen:
		e.Open = Open{Name: e.Open.Name[:0], RealPath: e.Open.RealPath[:0], Raw: e.Open.Raw[:0]}
	case KindConnect:
		e.Connect = Connect{UnixPath: e.Connect.UnixPath[:0]}
	case KindPriv, KindCred:
		e.Priv = Priv{}
	case KindFS:
		fs := e.FS
		e.FS = FS{}
		e.FS.keep(fs)
	case KindSocket:
		e.Socket = SocketCall{}
	case KindDup:
		e.Dup = Dup{Name: e.Dup.Name[:0]}
	case KindSendRecv:
		e.SendRecv = SendRecv{}
	case KindIOUring:
		u := e.IOUring
		e.IOUring = IOUring{}
		e.IOUring.keep(u)
	default:
		e.resetAll()
		return
	}
	d := derived{flags: e.derived.flags[:0], tuple: e.derived.tuple[:0], mode: e.derived.mode[:0]}
	e.Type, e.Num, e.Time, e.CPU, e.PID, e.TID, e.CgroupID, e.Res = 0, 0, 0, 0, 0, 0, 0, 0
	e.Proc, e.Container, e.HostNames, e.Identities, e.derived = nil, nil, nil, nil, d
}

// resetAll clears every payload, for an event of no known kind (a decode
// that failed half way may have written any of them).
func (e *Event) resetAll() {
	open, real, raw, unix, file := e.Open.Name[:0], e.Open.RealPath[:0], e.Open.Raw[:0], e.Connect.UnixPath[:0], e.Exec.Filename[:0]
	d := derived{flags: e.derived.flags[:0], tuple: e.derived.tuple[:0], mode: e.derived.mode[:0]}
	fs, dupName, uring := e.FS, e.Dup.Name[:0], e.IOUring
	*e = Event{}
	e.Open.Name, e.Open.RealPath, e.Open.Raw, e.Connect.UnixPath, e.Exec.Filename = open, real, raw, unix, file
	e.derived = d
	e.FS.keep(fs)
	e.Dup.Name = dupName
	e.IOUring.keep(uring)
}

// Open is the payload of open, openat, openat2, creat and open_by_handle_at.
type Open struct {
	// Flags are the open(2) flags as the caller passed them (O_* values).
	Flags uint32
	Mode  uint32
	// DirFD is the directory descriptor of openat/openat2 (AT_FDCWD = -100),
	// or the mount descriptor of open_by_handle_at.
	DirFD int32
	// Name is the file as the caller named it (fd.name, Falco's meaning):
	// Raw made absolute against the directory it was relative to (the cwd
	// or the dirfd, resolved by the kernel), "." and ".." folded lexically,
	// symlinks not followed. So /proc/self/fd/1 stays /proc/self/fd/1.
	Name []byte
	// RealPath is the file the kernel opened (fd.realpath): the absolute
	// path walked from the installed file, symlinks and ".." followed as
	// the lookup followed them; empty for a failed open.
	RealPath []byte
	// Raw is the path string exactly as the caller passed it (fd.nameraw);
	// empty for open_by_handle_at, which passes a handle.
	Raw []byte
	// NameTruncated, RealPathTruncated and RawTruncated are set when a
	// bound cut the string (Name is cut when Raw or its directory was).
	NameTruncated, RealPathTruncated, RawTruncated bool
	// FileType is the S_IFMT bits of the opened inode (0 when unknown), so
	// rules can tell regular files from directories, pipes and devices.
	FileType uint32
	// ViaHook is set when the sensor's optional file_open hook (LSM or
	// fentry), not an open syscall, saw the open: io_uring's
	// IORING_OP_OPENAT, open_by_handle_at and other opens that bypass the
	// open syscalls. Res is then 0, Raw empty, and Name the resolved path
	// (the only one the hook sees), as RealPath.
	ViaHook bool
	// Created is set when the open created the file (O_CREAT on a file
	// that did not exist), as the kernel marked it.
	Created bool
	// Dev (the kernel's s_dev of the file's file system, see FileID), Ino
	// and Nlink are the opened file's identity and link count; 0 for a
	// failed open.
	Dev   uint32
	Ino   uint64
	Nlink uint32
}

// Connect is the payload of connect.
type Connect struct {
	FD int32
	// Family is the socket's address family: AF_INET, AF_INET6 or AF_UNIX.
	Family uint16
	// SockType is SOCK_STREAM, SOCK_DGRAM, ...
	SockType uint16
	// Proto is the L4 protocol number (IPPROTO_TCP, IPPROTO_UDP), 0 for unix.
	Proto uint8
	// Local and Remote are the socket's two ends; Local may be unspecified
	// when the kernel had not bound the socket yet (failed connect).
	Local, Remote netip.AddrPort
	// UnixPath is the unix socket path (abstract names start with '@').
	UnixPath []byte
}

// Exec is the payload of execve and execveat.
type Exec struct {
	// Filename is the path as passed to execve, before resolution.
	Filename          []byte
	FilenameTruncated bool
}

// Address families and protocols the model uses, from the Linux ABI.
const (
	AFUnix  = 1
	AFInet  = 2
	AFInet6 = 10

	ProtoTCP = 6
	ProtoUDP = 17
)
