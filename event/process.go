package event

// Process is a process (thread group) as the process table knows it. Its
// fields are set when the process is created (fork, exec, or the /proc seed)
// and replaced wholesale on exec: readers on the event path see a consistent
// value without locks because only the pipeline goroutine writes them.
type Process struct {
	PID, PPID uint32
	// Name is the kernel's comm (proc.name), at most 15 bytes.
	Name string
	// Exe is argv[0] as the process was started (proc.exe).
	Exe string
	// ExePath is the full path of the executable file (proc.exepath).
	ExePath string
	// ExeTruncated is set when the kernel's walk of the executable's path
	// stopped before the root (too many components or bytes): ExePath
	// then holds only its last components (proc.is_exepath_truncated).
	ExeTruncated bool
	// ExeRootPath is the executable's path on the mount of the process's
	// root when it was run through another mount of that file system (a
	// bind mount of one of its directories): where the file lives
	// (proc.exepath_rootfs). Empty otherwise.
	ExeRootPath string
	// Target is the script or binary an interpreter or the loader runs
	// for the caller (proc.target, ExecTarget), "" when there is none.
	Target string
	// Args is the argument list without argv[0], joined by spaces (proc.args).
	Args string
	// Cmdline is Name followed by Args (proc.cmdline), built once at exec.
	Cmdline string
	// ArgsTruncated is set when argv was longer than the kernel's bound.
	ArgsTruncated bool
	Cwd           string
	UID, GID      uint32
	EUID          uint32
	// LoginUID is the audit login uid; 4294967295 (unset) is reported as -1.
	LoginUID uint32
	// TTY is the controlling terminal's device number, 0 when there is none.
	TTY uint32
	// UserName is the name of UID in the process's own user database (the
	// host's or its container's); empty when unknown.
	UserName string
	// GroupName and LoginName are the host's names of GID and LoginUID;
	// a container's processes are named from the container's own files
	// (Container.Users, Container.Groups) where it has them.
	GroupName, LoginName string
	// StartTime is when the process (or its current image) started, in ns
	// since the Unix epoch.
	StartTime int64
	CgroupID  uint64
	// ExeFromMemfd and ExeDeleted describe the executable: loaded from a
	// memfd_create file, or from a file unlinked from every directory.
	ExeFromMemfd, ExeDeleted bool
	// Exec facts (fields_exec.go), from the kernel at exec: the
	// executable's overlayfs layer, whether the process may write it, its
	// inode number and times (ns since the Unix epoch); the capability
	// sets; the ids in the process's own pid namespace and its session
	// (in the initial namespace); the environment, NUL-separated.
	ExeUpperLayer, ExeLowerLayer, ExeWritable bool
	// Compat is set when the process runs a 32-bit x86 (ia32) program,
	// whose syscalls only the raw sys_exit hook sees
	// (sensor.Sensor.CompatErr).
	Compat                                     bool
	ExeIno                                     uint64
	ExeCtime, ExeMtime                         int64
	CapInheritable, CapPermitted, CapEffective uint64
	VPID, VPGID, SID                           uint32
	Env                                        string
	EnvTruncated                               bool
	// ExecSeen is set when the facts above come from an exec record
	// (not /proc), CapsKnown when the capability sets are known (from an
	// exec, a change of credentials or /proc); the Cap*Names are the sets rendered
	// (CapNames) and SessionName the session leader's name, as of the exec.
	ExecSeen, CapsKnown                                       bool
	CapInheritableNames, CapPermittedNames, CapEffectiveNames string
	SessionName                                               string
	// Parent is the process's parent at the time it was created, possibly an
	// exited process kept alive by this reference; nil at the top of the
	// known tree.
	Parent *Process
}

// Ancestor returns the n-th ancestor of p (1 is the parent) or nil.
func (p *Process) Ancestor(n int) *Process {
	for ; p != nil && n > 0; n-- {
		p = p.Parent
	}
	return p
}
