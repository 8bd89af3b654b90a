package event

import "strings"

// capNames are the capability names by number (linux/capability.h), as
// Falco renders thread.cap_* sets.
var capNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// CapNames renders a capability set as Falco does: the names of its
// capabilities in number order, separated by spaces.
func CapNames(set uint64) string {
	var b strings.Builder
	for i, n := range capNames {
		if set&(1<<i) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(n)
	}
	return b.String()
}

// EnvValue returns the value of variable name in env (NUL-separated
// NAME=value entries, as the kernel holds them); false when it is absent.
func EnvValue(env, name string) (string, bool) {
	for env != "" {
		var entry string
		entry, env, _ = strings.Cut(env, "\x00")
		if v, ok := strings.CutPrefix(entry, name); ok && strings.HasPrefix(v, "=") {
			return v[1:], true
		}
	}
	return "", false
}

func procNum(name string, typ FieldType, desc string, fn func(p *Process) (int64, bool)) Field {
	return scoped(num(name, typ, desc, func(e *Event) (int64, bool) {
		if e.Proc == nil {
			return 0, false
		}
		return fn(e.Proc)
	}))
}

func procBool(name, desc string, fn func(p *Process) bool) Field {
	return scoped(boolean(name, desc, func(e *Event) (bool, bool) {
		if e.Proc == nil {
			return false, false
		}
		return fn(e.Proc), true
	}))
}

// known is v, ok when the process's exec was seen: facts only an exec
// record gives are unknown for processes found in /proc.
func known(p *Process, v int64) (int64, bool) { return v, p.ExecSeen }

// execFactFields are the facts the kernel gives of a process at exec: its
// executable, capabilities, pid-namespace ids, session and environment.
func execFactFields() []Field {
	return []Field{
		procBool("proc.is_exe_upper_layer", "True when the executable is in the upper layer of an overlayfs (written or copied up in a container).",
			func(p *Process) bool { return p.ExeUpperLayer }),
		procBool("proc.is_exe_lower_layer", "True when the executable is only in a lower layer of an overlayfs (the container's image).",
			func(p *Process) bool { return p.ExeLowerLayer }),
		procBool("proc.is_exe_writable", "True when the process may write its own executable (mode bits for its fsuid or fsgid, or CAP_DAC_OVERRIDE).",
			func(p *Process) bool { return p.ExeWritable }),
		procNum("proc.exe_ino", FieldInt, "Inode number of the executable file.",
			func(p *Process) (int64, bool) { return known(p, int64(p.ExeIno)) }),
		procNum("proc.exe_ino.ctime", FieldAbsTime, "Last status change time of the executable file, ns since the Unix epoch.",
			func(p *Process) (int64, bool) { return known(p, p.ExeCtime) }),
		procNum("proc.exe_ino.mtime", FieldAbsTime, "Last modification time of the executable file, ns since the Unix epoch.",
			func(p *Process) (int64, bool) { return known(p, p.ExeMtime) }),
		procNum("proc.exe_ino.ctime_duration_proc_start", FieldRelTime, "Nanoseconds from the executable's last status change to the process's start.",
			func(p *Process) (int64, bool) {
				if p.ExeCtime == 0 || p.StartTime == 0 {
					return 0, false
				}
				return p.StartTime - p.ExeCtime, true
			}),
		procCaps("thread.cap_effective", "Effective capabilities of the process, by name.", func(p *Process) string { return p.CapEffectiveNames }),
		procCaps("thread.cap_permitted", "Permitted capabilities of the process, by name.", func(p *Process) string { return p.CapPermittedNames }),
		procCaps("thread.cap_inheritable", "Inheritable capabilities of the process, by name.", func(p *Process) string { return p.CapInheritableNames }),
		procNum("proc.vpid", FieldInt, "Process id in the process's own pid namespace.",
			func(p *Process) (int64, bool) { return known(p, int64(p.VPID)) }),
		procNum("proc.vpgid", FieldInt, "Process group id in the process's own pid namespace.",
			func(p *Process) (int64, bool) { return known(p, int64(p.VPGID)) }),
		procBool("proc.is_vpgid_leader", "True when the process leads its process group (its vpid is its vpgid).",
			func(p *Process) bool { return p.VPID != 0 && p.VPID == p.VPGID }),
		procNum("proc.sid", FieldInt, "Session id of the process (in the initial pid namespace).",
			func(p *Process) (int64, bool) { return known(p, int64(p.SID)) }),
		procBool("proc.is_sid_leader", "True when the process leads its session.",
			func(p *Process) bool { return p.SID != 0 && p.SID == p.PID }),
		procStr("proc.sname", "Name of the process's session leader.", func(p *Process) string { return p.SessionName }),
		{
			Name: "proc.env", Type: FieldString, Arg: ArgKey, ProcScoped: true,
			Desc: "Environment of the process as NAME=value entries separated by spaces; proc.env[NAME] is one variable's value.",
			Str: func(e *Event, a Arg) (string, bool) {
				if e.Proc == nil || e.Proc.Env == "" {
					return "", false
				}
				if a.Set {
					return EnvValue(e.Proc.Env, a.Key)
				}
				return strings.ReplaceAll(strings.TrimSuffix(e.Proc.Env, "\x00"), "\x00", " "), true
			},
		},
		procBool("proc.is_env_truncated", "True when the environment was longer than the sensor's bound (vigil field).",
			func(p *Process) bool { return p.EnvTruncated }),
	}
}

// procCaps reads a capability set as rendered at exec or at a change of
// credentials (CapNames).
func procCaps(name, desc string, names func(p *Process) string) Field {
	return scoped(str(name, desc, func(e *Event) (string, bool) {
		if e.Proc == nil || !e.Proc.CapsKnown {
			return "", false
		}
		return names(e.Proc), true
	}))
}
