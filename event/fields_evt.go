package event

func evtFields() []Field {
	return []Field{
		str("evt.type", "Event type, by Falco's name (execve, clone, procexit, open, openat, open_by_handle_at, connect, ...), and "+
			"vigil's io_uring_setup and io_uring_submit.",
			func(e *Event) (string, bool) { return e.Type.String(), true }),
		num("evt.num", FieldUint, "Sequence number of the event, assigned by the sensor.",
			func(e *Event) (int64, bool) { return int64(e.Num), true }),
		num("evt.time", FieldAbsTime, "Event time (nanoseconds since the epoch; rendered as a time of day in text).",
			func(e *Event) (int64, bool) { return e.Time, true }),
		alias(num("evt.rawtime", FieldAbsTime, "Event time in nanoseconds since the epoch.",
			func(e *Event) (int64, bool) { return e.Time, true })),
		str("evt.dir", "Event direction; vigil emits syscalls at exit, so always '<'.",
			func(*Event) (string, bool) { return "<", true }),
		num("evt.cpu", FieldUint, "CPU the event happened on.",
			func(e *Event) (int64, bool) { return int64(e.CPU), true }),
		str("evt.res", "Result: SUCCESS, or the error name (ENOENT, EACCES, EINPROGRESS, ...).",
			func(e *Event) (string, bool) { return ErrnoName(e.Res), true }),
		num("evt.rawres", FieldInt, "Result as a number: a file descriptor or 0 on success, a negative errno on failure.",
			func(e *Event) (int64, bool) { return e.Res, true }),
		boolean("evt.failed", "True when the syscall returned an error.",
			func(e *Event) (bool, bool) { return e.Res < 0, true }),
		only(boolean("evt.is_open_read", "True for an open with read access.",
			func(e *Event) (bool, bool) {
				if e.Type.Kind() != KindOpen {
					return false, false
				}
				return OpenReadAccess&(1<<OpenAccessOf(e.Open.Flags)) != 0, true
			}), KindOpen),
		only(boolean("evt.is_open_write", "True for an open with write access.",
			func(e *Event) (bool, bool) {
				if e.Type.Kind() != KindOpen {
					return false, false
				}
				return OpenWriteAccess&(1<<OpenAccessOf(e.Open.Flags)) != 0, true
			}), KindOpen),
		only(str("evt.arg.flags", "Open flags (O_RDONLY|O_CLOEXEC); for execve the executable's flags (EXE_UPPER_LAYER|EXE_FROM_MEMFD); the flags of unshare (CLONE_NEWUSER), userfaultfd and finit_module.",
			func(e *Event) (string, bool) {
				kind := e.Type.Kind()
				if kind != KindOpen && kind != KindPriv && (kind != KindExec || e.Proc == nil) {
					return "", false
				}
				if !e.derived.flagsOK {
					switch kind {
					case KindOpen:
						e.derived.flags = AppendOpenFlags(e.derived.flags[:0], e.Open.Flags)
					case KindPriv:
						var ok bool
						if e.derived.flags, ok = appendPrivFlags(e.derived.flags[:0], e); !ok {
							return "", false
						}
					default:
						e.derived.flags = appendExecFlags(e.derived.flags[:0], e.Proc)
					}
					e.derived.flagsOK = true
				}
				return bytesString(e.derived.flags), true
			}), KindOpen, KindExec, KindPriv),
		argModeField(),
		only(num("evt.arg.dirfd", FieldInt, "Directory descriptor argument of openat/openat2 (-100 is AT_FDCWD).",
			func(e *Event) (int64, bool) {
				return int64(e.Open.DirFD), e.Type == TypeOpenat || e.Type == TypeOpenat2
			}), KindOpen),
		only(num("evt.arg.mountfd", FieldInt, "Mount descriptor argument of open_by_handle_at (-100 is AT_FDCWD).",
			func(e *Event) (int64, bool) { return int64(e.Open.DirFD), e.Type == TypeOpenByHandleAt }), KindOpen),
		alias(only(str("evt.arg.name", "Path argument of an open, as the caller passed it; of unlinkat, made absolute against the cwd or dirfd.",
			func(e *Event) (string, bool) {
				if e.Type.Kind() == KindOpen {
					return bytesString(e.Open.Raw), true
				}
				return fsPathArg(e, isUnlinkat)
			}), KindOpen, KindFS)),
		only(str("evt.arg.filename", "Path argument of execve/execveat, as the caller passed it; of chmod and fchmodat, made absolute against the cwd or dirfd.",
			func(e *Event) (string, bool) {
				if e.Type.Kind() == KindExec {
					return bytesString(e.Exec.Filename), true
				}
				return fsPathArg(e, isChmodPath)
			}), KindExec, KindFS),
		alias(only(num("evt.arg.fd", FieldInt, "File descriptor argument (connect, fchmod) or result (open).",
			func(e *Event) (int64, bool) { return fdNum(e) }), KindOpen, KindConnect, KindFS)),
		alias(num("evt.arg.res", FieldInt, "Result of the syscall, as evt.rawres.",
			func(e *Event) (int64, bool) { return e.Res, true })),
	}
}
