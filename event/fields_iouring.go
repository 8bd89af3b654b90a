package event

// ioringSetupSQPoll is IORING_SETUP_SQPOLL.
const ioringSetupSQPoll = 1 << 1

func isIOURingSubmit(e *Event) bool { return e.Type == TypeIOUringSubmit }

func isIOURingSetup(e *Event) bool { return e.Type == TypeIOUringSetup }

func ioURingFields() []Field {
	return []Field{
		only(str("iouring.op", "Opcode of an io_uring request, by its uapi name (IORING_OP_OPENAT, IORING_OP_CONNECT, ...).",
			func(e *Event) (string, bool) { return IOURingOpName(e.IOUring.Op), isIOURingSubmit(e) }), KindIOUring),
		only(num("iouring.opcode", FieldUint, "Opcode of an io_uring request, as a number (IORING_OP_OPENAT = 18).",
			func(e *Event) (int64, bool) { return int64(e.IOUring.Op), isIOURingSubmit(e) }), KindIOUring),
		only(str("iouring.path", "Path of an io_uring request (openat, openat2, unlinkat, mkdirat; the old path of renameat "+
			"and linkat; symlinkat's target, as passed), made absolute against its dirfd or the cwd; symlinks not followed.",
			func(e *Event) (string, bool) {
				return bytesString(e.IOUring.Path1), isIOURingSubmit(e) && len(e.IOUring.Path1) > 0
			}), KindIOUring),
		only(str("iouring.path2", "New path of an io_uring renameat, linkat or symlinkat, made absolute against its dirfd or the cwd.",
			func(e *Event) (string, bool) {
				return bytesString(e.IOUring.Path2), isIOURingSubmit(e) && len(e.IOUring.Path2) > 0
			}), KindIOUring),
		only(boolean("iouring.path_truncated", "True when a bound cut iouring.path or iouring.path2.",
			func(e *Event) (bool, bool) {
				return e.IOUring.Truncated1 || e.IOUring.Truncated2, isIOURingSubmit(e)
			}), KindIOUring),
		only(num("iouring.fd", FieldInt, "Descriptor of an io_uring request: the dirfd of its path (-100 is AT_FDCWD), or the "+
			"file or socket it acts on (an index in the ring's registered files when iouring.fixed_file); a setup's ring fd.",
			func(e *Event) (int64, bool) {
				if isIOURingSetup(e) {
					return e.Res, true
				}
				return int64(e.IOUring.FD1), isIOURingSubmit(e)
			}), KindIOUring),
		only(num("iouring.flags", FieldUint, "Flags of an io_uring setup (IORING_SETUP_*) or request (open flags, AT_* or RENAME_*).",
			func(e *Event) (int64, bool) { return int64(e.IOUring.Flags), true }), KindIOUring),
		only(num("iouring.mode", FieldUint, "Mode of an io_uring openat, openat2 or mkdirat.",
			func(e *Event) (int64, bool) { return int64(e.IOUring.Mode), isIOURingSubmit(e) }), KindIOUring),
		only(boolean("iouring.sq_thread", "True when the ring has a kernel submission thread (IORING_SETUP_SQPOLL): for a "+
			"request, that this thread submitted it, with no syscall of the process.",
			func(e *Event) (bool, bool) {
				if isIOURingSetup(e) {
					return e.IOUring.Flags&ioringSetupSQPoll != 0, true
				}
				return e.IOUring.SQThread, true
			}), KindIOUring),
		only(boolean("iouring.fixed_file", "True when an io_uring request names a registered file (IOSQE_FIXED_FILE).",
			func(e *Event) (bool, bool) { return e.IOUring.FixedFile, isIOURingSubmit(e) }), KindIOUring),
		only(num("iouring.sq_entries", FieldUint, "Submission queue size of an io_uring setup.",
			func(e *Event) (int64, bool) { return int64(e.IOUring.SQEntries), isIOURingSetup(e) }), KindIOUring),
		only(num("iouring.cq_entries", FieldUint, "Completion queue size of an io_uring setup.",
			func(e *Event) (int64, bool) { return int64(e.IOUring.CQEntries), isIOURingSetup(e) }), KindIOUring),
	}
}
