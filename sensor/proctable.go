package sensor

import (
	"bytes"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/procfs"
)

// DefaultMaxProcesses bounds the process table when the config leaves it 0.
const DefaultMaxProcesses = 32768

// maxMissDepth bounds how many missing ancestors one miss reads from /proc.
const maxMissDepth = 8

// TableConfig configures a ProcessTable.
type TableConfig struct {
	// MaxProcesses caps the table; when full the oldest entry is evicted.
	MaxProcesses int
	// ProcRoot is procfs's mount point, default "/proc".
	ProcRoot string
	// CgroupRoot is the cgroup v2 mount point used to turn a /proc cgroup
	// path into the id BPF reports; default: found in mountinfo.
	CgroupRoot string
	// Passwd is the host user database, default "/etc/passwd"; Group
	// the host group database, default "/etc/group".
	Passwd, Group string
	// BootOffset converts boot-time ns to Unix ns (see Decoder).
	BootOffset int64
	Logger     *slog.Logger
}

// ProcessTable maps thread-group ids to the Process each event carries. It
// is seeded from /proc, updated by fork, exec and exit records, and bounded.
// Lookups of known processes allocate nothing and make no syscalls; a miss
// reads /proc once and remembers the result. A ProcessTable is used from one
// goroutine; Len, Evicted and Misses may be read from any.
type ProcessTable struct {
	max            int
	byPID          map[uint32]*procEntry
	oldest, newest *procEntry
	procfs         procDir
	users, groups  *userDB
	bootOffset     int64
	log            *slog.Logger
	idle           event.Process
	// caps holds each capability set rendered (capNames).
	caps map[uint64]string

	size    atomic.Int64
	evicted atomic.Uint64
	misses  atomic.Uint64
}

// procEntry is a table slot, linked in creation order for eviction.
type procEntry struct {
	proc       *event.Process
	prev, next *procEntry
}

// NewProcessTable returns an empty table.
func NewProcessTable(cfg TableConfig) *ProcessTable {
	if cfg.MaxProcesses <= 0 {
		cfg.MaxProcesses = DefaultMaxProcesses
	}
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.Passwd == "" {
		cfg.Passwd = "/etc/passwd"
	}
	if cfg.Group == "" {
		cfg.Group = "/etc/group"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = findCgroup2(cfg.ProcRoot)
	}
	return &ProcessTable{
		max:        cfg.MaxProcesses,
		byPID:      make(map[uint32]*procEntry, min(cfg.MaxProcesses, 4096)),
		procfs:     procDir{root: cfg.ProcRoot, cgroupRoot: cfg.CgroupRoot, bootOffset: cfg.BootOffset},
		users:      &userDB{path: cfg.Passwd},
		groups:     &userDB{path: cfg.Group, parse: procfs.ParseGroup},
		bootOffset: cfg.BootOffset,
		log:        cfg.Logger,
		caps:       map[uint64]string{},
	}
}

// Len returns the number of processes in the table.
func (t *ProcessTable) Len() int { return int(t.size.Load()) }

// Evicted returns how many live entries were evicted because the table was full.
func (t *ProcessTable) Evicted() uint64 { return t.evicted.Load() }

// Misses returns how many events came from processes the table did not know.
func (t *ProcessTable) Misses() uint64 { return t.misses.Load() }

// Lookup returns the process with thread-group id pid, or nil; it never
// reads /proc.
func (t *ProcessTable) Lookup(pid uint32) *event.Process {
	if en := t.byPID[pid]; en != nil {
		return en.proc
	}
	return nil
}

// Seed fills the table from /proc with the processes that exist now, oldest
// first (so that a full table evicts the oldest). Call it after the
// programs are attached, so that no process falls between the scan and the
// first fork record.
func (t *ProcessTable) Seed() error {
	procs, err := t.procfs.scan(t.users)
	if err != nil {
		return err
	}
	for _, p := range procs {
		t.names(p)
		t.insert(p)
	}
	for _, p := range procs {
		if p.PPID != 0 {
			p.Parent = t.Lookup(p.PPID)
		}
	}
	t.log.Debug("process table seeded", "processes", len(procs))
	return nil
}

// Apply updates the table with r and sets r.Event.Proc. Exec builds a new
// Process (earlier events keep the old one), fork adds the child, and an
// exit is freed by Release once the event is delivered. It also completes
// the name of an open relative to a cwd the kernel could not give.
func (t *ProcessTable) Apply(r *Record) {
	e := &r.Event
	switch {
	case e.Type == event.TypeClone:
		e.Proc = t.fork(r)
	case (e.Type == event.TypeExecve || e.Type == event.TypeExecveat) && e.Res == 0:
		e.Proc = t.exec(r)
	default:
		e.Proc = t.get(e.PID, e.CgroupID, 0)
		if e.Proc == nil {
			// Thread-group id 0 is the idle task, which the table never
			// holds; events still get a Process.
			e.Proc = &t.idle
		} else if e.Type.Kind() == event.KindCred {
			e.Proc = t.cred(e)
			if e.UIDArgs() {
				for i, uid := range e.Priv.Args {
					if uid >= 0 {
						e.Priv.UserNames[i] = t.users.name(uint32(uid), time.Now())
					}
				}
			}
		}
	}
	if r.openJoin {
		// The kernel could not resolve the cwd; the table's (as of
		// the last exec) is the best left.
		e.Open.Name = appendJoin(e.Open.Name[:0], stringBytes(e.Proc.Cwd), e.Open.Raw)
	}
}

// Release frees what Apply kept only for r's delivery: the entry of a
// process whose exit r reported.
func (t *ProcessTable) Release(r *Record) {
	if r.Event.Type != event.TypeProcExit {
		return
	}
	if en := t.byPID[r.Event.PID]; en != nil && en.proc == r.Event.Proc {
		t.remove(en)
	}
}

// get returns pid's process, building it from /proc (or from the record
// alone when /proc no longer has it) on a miss.
func (t *ProcessTable) get(pid uint32, cgroupID uint64, depth int) *event.Process {
	if en := t.byPID[pid]; en != nil {
		return en.proc
	}
	if pid == 0 {
		return nil
	}
	t.misses.Add(1)
	p, ok := t.procfs.read(pid, t.users)
	if !ok {
		p = &event.Process{PID: pid, CgroupID: cgroupID}
	}
	if p.CgroupID == 0 {
		p.CgroupID = cgroupID
	}
	t.names(p)
	t.insert(p)
	if p.PPID != 0 && p.PPID != pid && depth < maxMissDepth {
		p.Parent = t.get(p.PPID, 0, depth+1)
	}
	return p
}

func (t *ProcessTable) fork(r *Record) *event.Process {
	e := &r.Event
	child := &event.Process{}
	parent := t.get(r.Fork.ParentPID, e.CgroupID, 0)
	if parent != nil {
		*child = *parent
	}
	child.PID = e.PID
	child.PPID = r.Fork.ParentPID
	child.StartTime = r.Fork.StartTime
	child.CgroupID = e.CgroupID
	child.Parent = parent
	t.insert(child)
	return child
}

func (t *ProcessTable) exec(r *Record) *event.Process {
	e, f := &r.Event, &r.Exec
	p := &event.Process{
		PID:           e.PID,
		PPID:          f.PPID,
		Name:          string(f.Comm),
		ExePath:       string(f.ExePath),
		ExeTruncated:  f.ExeTruncated,
		ExeRootPath:   string(f.ExeRootPath),
		ArgsTruncated: f.ArgsTruncated,
		Cwd:           string(f.Cwd),
		UID:           f.UID,
		GID:           f.GID,
		EUID:          f.EUID,
		LoginUID:      f.LoginUID,
		TTY:           f.TTY,
		StartTime:     e.Time,
		CgroupID:      e.CgroupID,
		ExeFromMemfd:  f.ExeFromMemfd,
		// A memfd was never linked into a directory: not "deleted".
		ExeDeleted:     f.ExeDeleted && !f.ExeFromMemfd,
		ExeUpperLayer:  f.ExeUpperLayer,
		ExeLowerLayer:  f.ExeLowerLayer,
		ExeWritable:    f.ExeWritable,
		Compat:         f.Compat,
		ExeIno:         f.ExeIno,
		ExeCtime:       f.ExeCtime,
		ExeMtime:       f.ExeMtime,
		CapInheritable: f.CapInheritable,
		CapPermitted:   f.CapPermitted,
		CapEffective:   f.CapEffective,
		VPID:           f.VPID,
		VPGID:          f.VPGID,
		SID:            f.SID,
		Env:            string(f.Env),
		EnvTruncated:   f.EnvTruncated,
		ExecSeen:       true,
		CapsKnown:      true,
	}
	p.SessionName = p.Name
	if f.SID != e.PID {
		if s := t.Lookup(f.SID); s != nil {
			p.SessionName = s.Name
		}
	}
	p.Exe, p.Args = splitArgs(f.Args)
	p.Target = event.ExecTarget(p.ExePath, e.Exec.Filename, f.Args, p.Cwd, f.Interp)
	p.Cmdline = cmdline(p.Name, p.Args)
	p.UserName = t.users.name(p.UID, time.Now())
	t.names(p)
	if f.PPID != 0 {
		p.Parent = t.get(f.PPID, 0, 0)
	}
	if en := t.byPID[e.PID]; en != nil {
		en.proc = p
	} else {
		t.insert(p)
	}
	return p
}

// cred gives e's process the credentials its cred record reports (what
// setuid, capset and the like left it with), so that this event and the
// process's later ones see them. Like exec it builds a new Process, so
// events already delivered keep the one they had.
func (t *ProcessTable) cred(e *event.Event) *event.Process {
	old, c := e.Proc, &e.Priv
	if old.UID == c.UID && old.GID == c.GID && old.EUID == c.EUID && old.CapsKnown &&
		old.CapInheritable == c.CapInheritable && old.CapPermitted == c.CapPermitted && old.CapEffective == c.CapEffective {
		return old
	}
	p := new(event.Process)
	*p = *old
	p.UID, p.GID, p.EUID = c.UID, c.GID, c.EUID
	p.CapsKnown = true
	p.CapInheritable, p.CapPermitted, p.CapEffective = c.CapInheritable, c.CapPermitted, c.CapEffective
	if p.UID != old.UID {
		p.UserName = t.users.name(p.UID, time.Now())
	}
	t.names(p)
	if en := t.byPID[p.PID]; en != nil && en.proc == old {
		en.proc = p
	}
	return p
}

// names sets the host's names of p's group and login uid, and renders its
// capability sets when they are known.
func (t *ProcessTable) names(p *event.Process) {
	now := time.Now()
	p.GroupName = t.groups.name(p.GID, now)
	p.LoginName = ""
	if p.LoginUID != unsetLoginUID {
		p.LoginName = t.users.name(p.LoginUID, now)
	}
	if p.CapsKnown {
		p.CapInheritableNames = t.capNames(p.CapInheritable)
		p.CapPermittedNames = t.capNames(p.CapPermitted)
		p.CapEffectiveNames = t.capNames(p.CapEffective)
	}
}

// unsetLoginUID is the kernel's "never logged in" login uid.
const unsetLoginUID = 1<<32 - 1

// maxCapSets bounds the rendered capability sets the table keeps; hosts
// have a handful (root's, none, a container runtime's default).
const maxCapSets = 256

// capNames returns set rendered, shared by every process with that set.
func (t *ProcessTable) capNames(set uint64) string {
	if s, ok := t.caps[set]; ok {
		return s
	}
	s := event.CapNames(set)
	if len(t.caps) < maxCapSets {
		t.caps[set] = s
	}
	return s
}

// splitArgs splits NUL-separated argv into argv[0] and the rest joined by
// spaces.
func splitArgs(argv []byte) (exe, args string) {
	argv = bytes.TrimSuffix(argv, []byte{0})
	first, rest, _ := bytes.Cut(argv, []byte{0})
	if len(rest) == 0 {
		return string(first), ""
	}
	b := []byte(string(rest))
	for i, c := range b {
		if c == 0 {
			b[i] = ' '
		}
	}
	return string(first), string(b)
}

// cmdline is proc.cmdline: the name, then the arguments.
func cmdline(name, args string) string {
	if args == "" {
		return name
	}
	return name + " " + args
}

func (t *ProcessTable) insert(p *event.Process) {
	if old := t.byPID[p.PID]; old != nil {
		// A pid reused after an exit the table never saw.
		t.remove(old)
	}
	for len(t.byPID) >= t.max && t.oldest != nil {
		t.remove(t.oldest)
		t.evicted.Add(1)
	}
	en := &procEntry{proc: p, prev: t.newest}
	if t.newest != nil {
		t.newest.next = en
	} else {
		t.oldest = en
	}
	t.newest = en
	t.byPID[p.PID] = en
	t.size.Store(int64(len(t.byPID)))
}

func (t *ProcessTable) remove(en *procEntry) {
	if en.prev != nil {
		en.prev.next = en.next
	} else {
		t.oldest = en.next
	}
	if en.next != nil {
		en.next.prev = en.prev
	} else {
		t.newest = en.prev
	}
	en.prev, en.next = nil, nil
	delete(t.byPID, en.proc.PID)
	t.size.Store(int64(len(t.byPID)))
}

// Sweep removes the entries of processes that procfs no longer lists: those
// whose exit record was lost (dropped in the kernel or undecodable), which
// would otherwise stay until evicted. It stats one /proc entry per process,
// so it is for after a loss, not for every event; it returns how many
// entries it removed.
func (t *ProcessTable) Sweep() int {
	n := 0
	var st syscall.Stat_t
	path := make([]byte, 0, len(t.procfs.root)+16)
	for en := t.oldest; en != nil; {
		next := en.next
		path = strconv.AppendUint(append(append(path[:0], t.procfs.root...), '/'), uint64(en.proc.PID), 10)
		if err := syscall.Stat(string(path), &st); errors.Is(err, syscall.ENOENT) {
			t.remove(en)
			n++
		}
		en = next
	}
	return n
}

// stringBytes views s as bytes without copying; callers only read it.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// SetBootOffset updates the boot-time to wall-clock offset used for start
// times read from /proc.
func (t *ProcessTable) SetBootOffset(offset int64) {
	t.bootOffset = offset
	t.procfs.bootOffset = offset
}
