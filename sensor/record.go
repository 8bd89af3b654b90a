package sensor

import "github.com/vigil-sensor/vigil/event"

// Record is one kernel record decoded: the Event the pipeline passes on and,
// for records that create or change a process, the facts the process table
// builds the new Process from. The byte slices in Exec alias the raw record
// and are valid only until the next Decode into the same Decoder.
type Record struct {
	Event event.Event
	// Exec holds what a successful exec record says of the new image; a
	// failed exec sets only PPID and Comm.
	Exec ExecFacts
	// Fork is set for clone records.
	Fork ForkFacts

	// openJoin is set when Open.Name is a raw path relative to the cwd
	// that the kernel could not give: the process table joins it.
	openJoin bool
}

// ExecFacts are the process facts of an exec record.
type ExecFacts struct {
	PPID, UID, GID, EUID, LoginUID uint32
	// TTY is encoded as in /proc/<pid>/stat (tty_nr), 0 without a tty.
	TTY uint32
	// Comm is the task's comm after exec; Args the NUL-separated argv;
	// ExePath the executable's path resolved in the kernel; Cwd likewise.
	Comm, Args, ExePath, Cwd    []byte
	ArgsTruncated, ExeTruncated bool
	CwdTruncated                bool
	// Interp is set when the kernel ran an interpreter for the file the
	// caller named (a "#!" script, binfmt_misc): Event.Exec.Filename is
	// that file, ExePath the interpreter.
	Interp bool
	// Compat is set when the new image is a 32-bit x86 (ia32) program.
	Compat                   bool
	ExeFromMemfd, ExeDeleted bool
	// ExeRootPath is the executable's path on the root's mount when it
	// was run through another mount of that file system (a bind mount),
	// empty otherwise.
	ExeRootPath []byte
	// Env is the NUL-separated environment of the new image.
	Env          []byte
	EnvTruncated bool
	// The process's capability sets, ids in its own pid namespace and
	// session id, and what the kernel says of its executable.
	CapInheritable, CapPermitted, CapEffective uint64
	VPID, VPGID, SID                           uint32
	ExeIno                                     uint64
	ExeCtime, ExeMtime                         int64
	ExeUpperLayer, ExeLowerLayer, ExeWritable  bool
}

// ForkFacts are the facts of a fork (clone) record. The Event's PID and TID
// are the child's.
type ForkFacts struct {
	ParentPID, ParentTID uint32
	// StartTime is the child's start in ns since the Unix epoch.
	StartTime int64
}

// reset clears r for reuse, keeping the Event's buffers.
func (r *Record) reset() {
	r.Event.Reset()
	r.Exec = ExecFacts{}
	r.Fork = ForkFacts{}
	r.openJoin = false
}
