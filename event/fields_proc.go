package event

// procStr is a string field of the event's process.
func procStr(name, desc string, fn func(p *Process) string) Field {
	return scoped(str(name, desc, func(e *Event) (string, bool) {
		if e.Proc == nil {
			return "", false
		}
		return nonEmpty(fn(e.Proc))
	}))
}

// parentStr is a string field of the parent of the event's process.
func parentStr(name, desc string, fn func(p *Process) string) Field {
	return scoped(str(name, desc, func(e *Event) (string, bool) {
		if e.Proc == nil || e.Proc.Parent == nil {
			return "", false
		}
		return nonEmpty(fn(e.Proc.Parent))
	}))
}

// ancestorValues is the Multi of the proc.a* fields: value i is the
// (i+1)-th ancestor, up to MaxAncestors.
func ancestorValues() *Multi {
	return &Multi{Of: "ancestor", First: 1, Max: MaxAncestors, Count: func(e *Event) int {
		n := 0
		if e.Proc != nil {
			for p := e.Proc.Parent; p != nil && n < MaxAncestors; p = p.Parent {
				n++
			}
		}
		return n
	}}
}

// ancestorStr is proc.aX[N]: N=0 is the process itself, 1 its parent, and
// without an index the rule compiler tries every ancestor (anc); output
// without an index shows the parent.
func ancestorStr(name, desc string, anc *Multi, fn func(p *Process) string) Field {
	return Field{
		Name: name, Type: FieldString, Desc: desc, Arg: ArgIndex, Multi: anc,
		Str: func(e *Event, a Arg) (string, bool) {
			n := 1
			if a.Set {
				n = a.Index
			}
			p := e.Proc.Ancestor(n)
			if p == nil {
				return "", false
			}
			return nonEmpty(fn(p))
		},
	}
}

func procFields() []Field {
	name := func(p *Process) string { return p.Name }
	exe := func(p *Process) string { return p.Exe }
	exepath := func(p *Process) string { return p.ExePath }
	cmdline := func(p *Process) string { return p.Cmdline }
	anc := ancestorValues()
	return []Field{
		num("proc.pid", FieldInt, "Process id (thread-group id) in the initial pid namespace.",
			func(e *Event) (int64, bool) { return int64(e.PID), true }),
		num("thread.tid", FieldInt, "Thread id in the initial pid namespace.",
			func(e *Event) (int64, bool) { return int64(e.TID), true }),
		scoped(num("proc.ppid", FieldInt, "Parent process id.",
			func(e *Event) (int64, bool) {
				if e.Proc == nil {
					return 0, false
				}
				return int64(e.Proc.PPID), true
			})),
		procStr("proc.name", "Process name (the kernel's comm, at most 15 bytes).", name),
		procStr("proc.exe", "First command-line argument (argv[0]) as the process was started.", exe),
		procStr("proc.exepath", "Full path of the process's executable file.", exepath),
		scoped(boolean("proc.is_exepath_truncated", "True when the executable's path was too deep or long to resolve whole: proc.exepath then holds only its last components and does not say where the file is (vigil field).",
			func(e *Event) (bool, bool) { return e.Proc != nil && e.Proc.ExeTruncated, e.Proc != nil })),
		procStr("proc.exepath_rootfs", "When the executable was run through another mount of the root file system (a bind mount of one of its directories), its path on the root's own mount: where the file lives. Absent otherwise (vigil field).",
			func(p *Process) string { return p.ExeRootPath }),
		procStr("proc.target", "The script or binary the caller asked to run when the executable is an interpreter or the dynamic loader: the file a #! script was exec'd by, or the file a known shell, interpreter or ld.so was given as its first non-option argument; absolute, cleaned (vigil field).",
			func(p *Process) string { return p.Target }),
		scoped(str("proc.args", "Command-line arguments after argv[0], joined by spaces.",
			func(e *Event) (string, bool) {
				if e.Proc == nil {
					return "", false
				}
				return e.Proc.Args, true
			})),
		procStr("proc.cmdline", "Process name followed by its arguments.", cmdline),
		procStr("proc.cwd", "Current working directory of the process.", func(p *Process) string { return p.Cwd }),
		scoped(num("proc.tty", FieldInt, "Controlling terminal device number, 0 when the process has none.",
			func(e *Event) (int64, bool) {
				if e.Proc == nil {
					return 0, false
				}
				return int64(e.Proc.TTY), true
			})),
		num("proc.duration", FieldRelTime, "Nanoseconds since the process (or its current image) started.",
			func(e *Event) (int64, bool) {
				if e.Proc == nil || e.Proc.StartTime == 0 {
					return 0, false
				}
				return e.Time - e.Proc.StartTime, true
			}),
		scoped(boolean("proc.is_exe_from_memfd", "True when the executable was loaded from a memfd_create file.",
			func(e *Event) (bool, bool) { return e.Proc != nil && e.Proc.ExeFromMemfd, e.Proc != nil })),
		scoped(boolean("proc.is_exe_deleted", "True when the executable file has been unlinked from every directory (vigil field).",
			func(e *Event) (bool, bool) { return e.Proc != nil && e.Proc.ExeDeleted, e.Proc != nil })),
		scoped(boolean("proc.is_args_truncated", "True when the argument list was longer than the sensor's bound (vigil field).",
			func(e *Event) (bool, bool) { return e.Proc != nil && e.Proc.ArgsTruncated, e.Proc != nil })),
		num("proc.cgroup_id", FieldUint, "Id of the process's cgroup v2 (vigil field).",
			func(e *Event) (int64, bool) { return int64(e.CgroupID), true }),
		parentStr("proc.pname", "Name of the parent process.", name),
		parentStr("proc.pexe", "argv[0] of the parent process.", exe),
		parentStr("proc.pexepath", "Executable path of the parent process.", exepath),
		parentStr("proc.pcmdline", "Command line of the parent process.", cmdline),
		ancestorStr("proc.aname", "Name of the N-th ancestor (0: the process, 1: its parent); without [N], any ancestor in conditions and the parent in output.", anc, name),
		ancestorStr("proc.aexe", "argv[0] of the N-th ancestor; without [N], any ancestor in conditions and the parent in output.", anc, exe),
		ancestorStr("proc.aexepath", "Executable path of the N-th ancestor; without [N], any ancestor in conditions and the parent in output.", anc, exepath),
		ancestorStr("proc.acmdline", "Command line of the N-th ancestor; without [N], any ancestor in conditions and the parent in output.", anc, cmdline),
		{
			Name: "proc.apid", Type: FieldInt, Desc: "Pid of the N-th ancestor; without [N], any ancestor in conditions and the parent in output.",
			Arg: ArgIndex, Multi: anc,
			Num: func(e *Event, a Arg) (int64, bool) {
				n := 1
				if a.Set {
					n = a.Index
				}
				p := e.Proc.Ancestor(n)
				if p == nil {
					return 0, false
				}
				return int64(p.PID), true
			},
		},
	}
}

// accountField names an id of the process (id; false when it has none):
// from its container's database (own) when the container has one, else
// the host's name the process table looked up (host).
func accountField(name, desc string, own func(c *Container) map[uint32]string, id func(p *Process) (uint32, bool),
	host func(p *Process) string) Field {
	return scoped(str(name, desc, func(e *Event) (string, bool) {
		if e.Proc == nil {
			return "", false
		}
		n, ok := id(e.Proc)
		if !ok {
			return "", false
		}
		if e.Container != nil {
			if names := own(e.Container); names != nil {
				return nonEmpty(names[n])
			}
		}
		return nonEmpty(host(e.Proc))
	}))
}

func containerUsers(c *Container) map[uint32]string { return c.Users }

// unsetUID is the kernel's "no login uid" value; Falco shows it as -1.
const unsetUID = 1<<32 - 1

func userFields() []Field {
	return []Field{
		scoped(num("user.uid", FieldInt, "User id of the process.",
			func(e *Event) (int64, bool) {
				if e.Proc == nil {
					return 0, false
				}
				return int64(e.Proc.UID), true
			})),
		accountField("user.name", "User name of the process's uid, from its own user database (host or container).",
			containerUsers, func(p *Process) (uint32, bool) { return p.UID, true }, func(p *Process) string { return p.UserName }),
		scoped(num("user.loginuid", FieldInt, "Audit login uid (-1 when the process never logged in).",
			func(e *Event) (int64, bool) {
				if e.Proc == nil {
					return 0, false
				}
				if e.Proc.LoginUID == unsetUID {
					return -1, true
				}
				return int64(e.Proc.LoginUID), true
			})),
		scoped(num("user.euid", FieldInt, "Effective user id of the process (vigil field).",
			func(e *Event) (int64, bool) {
				if e.Proc == nil {
					return 0, false
				}
				return int64(e.Proc.EUID), true
			})),
		accountField("user.loginname", "Name of the audit login uid's user, from the process's own user database (host or container).",
			containerUsers, func(p *Process) (uint32, bool) { return p.LoginUID, p.LoginUID != unsetUID },
			func(p *Process) string { return p.LoginName }),
		accountField("group.name", "Group name of the process's gid, from its own group database (host or container).",
			func(c *Container) map[uint32]string { return c.Groups }, func(p *Process) (uint32, bool) { return p.GID, true },
			func(p *Process) string { return p.GroupName }),
		scoped(num("group.gid", FieldInt, "Group id of the process.",
			func(e *Event) (int64, bool) {
				if e.Proc == nil {
					return 0, false
				}
				return int64(e.Proc.GID), true
			})),
	}
}
