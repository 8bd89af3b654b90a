package event

import "strconv"

// Priv is the payload of the priv kind (ptrace, init_module, finit_module,
// setns, unshare, bpf, userfaultfd) and of the cred kind (setuid, setgid,
// their setre* and setres* forms, capset).
type Priv struct {
	// Args are the arguments Falco names, by type: ptrace request and
	// pid; init_module length; finit_module fd and flags; setns fd and
	// nstype; unshare and userfaultfd flags; bpf cmd, then the kind
	// (BPFObj*) and id of the map, program or link it acts on (0, 0:
	// none known); set*id the ids as passed (-1: unchanged).
	Args [3]int64
	// TargetVigil is set by the sensor when a bpf command acts on one of
	// the running vigil's own maps, programs or links.
	TargetVigil bool
	// The caller's credentials after the call: what a successful change
	// made them, or what they stayed.
	UID, GID, EUID, EGID                       uint32
	CapInheritable, CapPermitted, CapEffective uint64
	// UserNames are the host's names of the uid arguments of setuid,
	// setreuid and setresuid (empty when unknown), set by the sensor.
	UserNames [3]string
}

// The kinds of bpf object a bpf event's target can be (Priv.Args[1]; bpf/events.h,
// enum bpf_obj_type).
const (
	BPFObjNone = 0
	BPFObjMap  = 1
	BPFObjProg = 2
	BPFObjLink = 3
)

// bpfObjNames are the kinds of bpf object as bpf.target_type renders them.
var bpfObjNames = [...]string{BPFObjMap: "map", BPFObjProg: "prog", BPFObjLink: "link"}

// BPFTarget returns the kind (map, prog or link) and id of the bpf object a
// bpf event acts on; false when the event is not bpf or names none.
func (e *Event) BPFTarget() (kind string, id int64, ok bool) {
	t := e.Priv.Args[1]
	if e.Type != TypeBpf || t <= BPFObjNone || t >= int64(len(bpfObjNames)) {
		return "", 0, false
	}
	return bpfObjNames[t], e.Priv.Args[2], true
}

// UIDArgs reports whether e's arguments are uids (setuid, setreuid,
// setresuid), which Falco renders as user names.
func (e *Event) UIDArgs() bool {
	return e.Type == TypeSetuid || e.Type == TypeSetreuid || e.Type == TypeSetresuid
}

// flagNames are the bits of a flags argument and their names, in
// Falco's order.
type flagNames []struct {
	bit  uint64
	name string
}

// append renders flags as Falco does ("CLONE_NEWNS|CLONE_NEWUSER"); bits
// without a name follow as a number, and no flags render as "0".
func (fn flagNames) append(b []byte, flags uint64) []byte {
	start := len(b)
	for _, f := range fn {
		if flags&f.bit == 0 {
			continue
		}
		if len(b) > start {
			b = append(b, '|')
		}
		b = append(b, f.name...)
		flags &^= f.bit
	}
	if flags != 0 || len(b) == start {
		if len(b) > start {
			b = append(b, '|')
		}
		b = strconv.AppendUint(b, flags, 10)
	}
	return b
}

// cloneNSFlags are the namespace flags of unshare and setns.
var cloneNSFlags = flagNames{
	{0x00000100, "CLONE_VM"}, {0x00000200, "CLONE_FS"}, {0x00000400, "CLONE_FILES"},
	{0x00000800, "CLONE_SIGHAND"}, {0x00000080, "CLONE_NEWTIME"}, {0x00020000, "CLONE_NEWNS"},
	{0x00040000, "CLONE_SYSVSEM"}, {0x02000000, "CLONE_NEWCGROUP"}, {0x04000000, "CLONE_NEWUTS"},
	{0x08000000, "CLONE_NEWIPC"}, {0x10000000, "CLONE_NEWUSER"}, {0x20000000, "CLONE_NEWPID"},
	{0x40000000, "CLONE_NEWNET"},
}

// userfaultfdFlags are userfaultfd's flags.
var userfaultfdFlags = flagNames{{0o4000, "O_NONBLOCK"}, {0o2000000, "O_CLOEXEC"}, {1, "UFFD_USER_MODE_ONLY"}}

// finitModuleFlags are finit_module's flags.
var finitModuleFlags = flagNames{
	{1, "MODULE_INIT_IGNORE_MODVERSIONS"}, {2, "MODULE_INIT_IGNORE_VERMAGIC"}, {4, "MODULE_INIT_COMPRESSED_FILE"},
}

// appendPrivFlags renders the flags argument of a priv event; false for a
// type without one.
func appendPrivFlags(b []byte, e *Event) ([]byte, bool) {
	switch e.Type {
	case TypeUnshare:
		return cloneNSFlags.append(b, uint64(e.Priv.Args[0])), true
	case TypeUserfaultfd:
		return userfaultfdFlags.append(b, uint64(e.Priv.Args[0])), true
	case TypeFinitModule:
		return finitModuleFlags.append(b, uint64(e.Priv.Args[1])), true
	}
	return b, false
}

// ptraceRequests names ptrace's requests as Falco renders evt.arg.request.
var ptraceRequests = map[int64]string{
	0: "PTRACE_TRACEME", 1: "PTRACE_PEEKTEXT", 2: "PTRACE_PEEKDATA", 3: "PTRACE_PEEKUSR", 4: "PTRACE_POKETEXT",
	5: "PTRACE_POKEDATA", 6: "PTRACE_POKEUSR", 7: "PTRACE_CONT", 8: "PTRACE_KILL", 9: "PTRACE_SINGLESTEP",
	12: "PTRACE_GETREGS", 13: "PTRACE_SETREGS", 14: "PTRACE_GETFPREGS", 15: "PTRACE_SETFPREGS",
	16: "PTRACE_ATTACH", 17: "PTRACE_DETACH", 18: "PTRACE_GETFPXREGS", 19: "PTRACE_SETFPXREGS",
	24: "PTRACE_SYSCALL", 25: "PTRACE_GET_THREAD_AREA", 26: "PTRACE_SET_THREAD_AREA", 30: "PTRACE_ARCH_PRCTL",
	31: "PTRACE_SYSEMU", 32: "PTRACE_SYSEMU_SINGLESTEP", 33: "PTRACE_SINGLEBLOCK",
	0x4200: "PTRACE_SETOPTIONS", 0x4201: "PTRACE_GETEVENTMSG", 0x4202: "PTRACE_GETSIGINFO",
	0x4203: "PTRACE_SETSIGINFO", 0x4204: "PTRACE_GETREGSET", 0x4205: "PTRACE_SETREGSET", 0x4206: "PTRACE_SEIZE",
	0x4207: "PTRACE_INTERRUPT", 0x4208: "PTRACE_LISTEN", 0x4209: "PTRACE_PEEKSIGINFO",
	0x420a: "PTRACE_GETSIGMASK", 0x420b: "PTRACE_SETSIGMASK", 0x420c: "PTRACE_SECCOMP_GET_FILTER",
	0x420d: "PTRACE_SECCOMP_GET_METADATA", 0x420e: "PTRACE_GET_SYSCALL_INFO",
}

// bpfCommands names bpf's commands as Falco renders evt.arg.cmd.
var bpfCommands = [...]string{
	"BPF_MAP_CREATE", "BPF_MAP_LOOKUP_ELEM", "BPF_MAP_UPDATE_ELEM", "BPF_MAP_DELETE_ELEM", "BPF_MAP_GET_NEXT_KEY",
	"BPF_PROG_LOAD", "BPF_OBJ_PIN", "BPF_OBJ_GET", "BPF_PROG_ATTACH", "BPF_PROG_DETACH", "BPF_PROG_TEST_RUN",
	"BPF_PROG_GET_NEXT_ID", "BPF_MAP_GET_NEXT_ID", "BPF_PROG_GET_FD_BY_ID", "BPF_MAP_GET_FD_BY_ID",
	"BPF_OBJ_GET_INFO_BY_FD", "BPF_PROG_QUERY", "BPF_RAW_TRACEPOINT_OPEN", "BPF_BTF_LOAD", "BPF_BTF_GET_FD_BY_ID",
	"BPF_TASK_FD_QUERY", "BPF_MAP_LOOKUP_AND_DELETE_ELEM", "BPF_MAP_FREEZE", "BPF_BTF_GET_NEXT_ID",
	"BPF_MAP_LOOKUP_BATCH", "BPF_MAP_LOOKUP_AND_DELETE_BATCH", "BPF_MAP_UPDATE_BATCH", "BPF_MAP_DELETE_BATCH",
	"BPF_LINK_CREATE", "BPF_LINK_UPDATE", "BPF_LINK_GET_FD_BY_ID", "BPF_LINK_GET_NEXT_ID", "BPF_ENABLE_STATS",
	"BPF_ITER_CREATE", "BPF_LINK_DETACH", "BPF_PROG_BIND_MAP", "BPF_TOKEN_CREATE",
}

// PtraceRequestName is a ptrace request as Falco renders it, or its number.
func PtraceRequestName(req int64) string {
	if n, ok := ptraceRequests[req]; ok {
		return n
	}
	return strconv.FormatInt(req, 10)
}

// BPFCommandName is a bpf command as Falco renders it, or its number.
func BPFCommandName(cmd int64) string {
	if cmd >= 0 && cmd < int64(len(bpfCommands)) {
		return bpfCommands[cmd]
	}
	return strconv.FormatInt(cmd, 10)
}

// Keys of the priv kind's in-kernel filter (bpf/events.h, enum
// priv_filter_key; the sensor checks these against it): ptrace requests
// below PrivKeyPtraceExt are their own key, the extended requests from
// PrivPtraceExtBase follow, bpf commands are their own key, and anything
// else is PrivKeyOther. Syscalls without a request or command use 0.
const (
	PrivKeyPtraceExt  = 40
	PrivPtraceExtBase = 0x4200
	PrivKeyOther      = 63
)

// PrivKey is the filter key of a priv event of type t whose request or
// command is arg, as bpf/kinds/priv.h computes it.
func PrivKey(t Type, arg uint32) int {
	switch t {
	case TypePtrace:
		switch {
		case arg < PrivKeyPtraceExt:
			return int(arg)
		case arg >= PrivPtraceExtBase && arg-PrivPtraceExtBase < PrivKeyOther-PrivKeyPtraceExt:
			return int(PrivKeyPtraceExt + arg - PrivPtraceExtBase)
		}
		return PrivKeyOther
	case TypeBpf:
		return int(min(arg, PrivKeyOther))
	}
	return 0
}
