package event

import "sync/atomic"

// FileID is a file's identity: the device of its file system and its inode
// number. A hard link or a bind mount gives a file another path, never
// another identity, so rules that name a sensitive file can recognise it
// whatever name reached it (fd.identity).
type FileID struct {
	// Dev is the kernel's device number of the file system (s_dev):
	// major << 20 | minor, as the open record carries it.
	Dev uint32
	Ino uint64
}

// DevOf is the kernel's device number of major and minor, as FileID.Dev
// holds it; stat's st_dev splits into them with unix.Major and unix.Minor.
func DevOf(major, minor uint32) uint32 { return major<<20 | minor&(1<<20-1) }

// DevMajor and DevMinor split a kernel device number.
func DevMajor(dev uint32) uint32 { return dev >> 20 }

// DevMinor is the minor part of a kernel device number.
func DevMinor(dev uint32) uint32 { return dev & (1<<20 - 1) }

// DevEncoded is dev as userspace encodes it in 32 bits (the kernel's
// new_encode_dev, glibc's makedev for such numbers): Falco's fd.dev.
func DevEncoded(dev uint32) uint32 {
	major, minor := DevMajor(dev), DevMinor(dev)
	return minor&0xff | major<<8 | (minor&^0xff)<<12
}

// FileIdentities maps the identities of the files the loaded rules name
// (fd.identity = /etc/shadow) to those names. The names are stat'ed off the
// hot path, at load and periodically (a file replaced by rename, as passwd
// replaces /etc/shadow, gets a new inode), and an open's identity is looked
// up in the result. Set replaces the whole table; readers never block. The
// zero value, and nil, are an empty table.
type FileIdentities struct {
	m atomic.Pointer[identityTable]
}

// identityTable is a table of FileIdentities: byIno is keyed by inode
// number alone, which the runtime's 64-bit map lookup hashes fastest (every
// open that reaches a rule on fd.identity looks it up), and lists the
// devices that have that inode.
type identityTable struct {
	ids   map[FileID]string
	byIno map[uint64][]identityEntry
}

type identityEntry struct {
	dev  uint32
	name string
}

// Set replaces the table with m, which the caller must not change after.
func (t *FileIdentities) Set(m map[FileID]string) {
	tab := &identityTable{ids: m, byIno: make(map[uint64][]identityEntry, len(m))}
	for id, name := range m {
		tab.byIno[id.Ino] = append(tab.byIno[id.Ino], identityEntry{dev: id.Dev, name: name})
	}
	t.m.Store(tab)
}

// Name returns the name of the file with identity id; false when the table
// does not hold it.
func (t *FileIdentities) Name(id FileID) (string, bool) {
	if t == nil || id.Ino == 0 {
		return "", false
	}
	tab := t.m.Load()
	if tab == nil {
		return "", false
	}
	for _, e := range tab.byIno[id.Ino] {
		if e.dev == id.Dev {
			return e.name, true
		}
	}
	return "", false
}

// Snapshot returns the current table, which the caller must not change.
func (t *FileIdentities) Snapshot() map[FileID]string {
	if t == nil {
		return nil
	}
	if tab := t.m.Load(); tab != nil {
		return tab.ids
	}
	return nil
}

// IsIdentityField reports whether the field named name reads a file's
// identity, so that the names a rule compares it with must be learned for
// the rule to match other names of those files.
func IsIdentityField(name string) bool { return name == "fd.identity" }

// openIdentity returns the name fd.identity gives an open's file: the path
// of a file the rules name that has its identity, else fd.realpath.
func openIdentity(e *Event) (string, bool) {
	if e.Type.Kind() != KindOpen {
		return "", false
	}
	if name, ok := e.Identities.Name(FileID{Dev: e.Open.Dev, Ino: e.Open.Ino}); ok {
		return name, true
	}
	p, ok := openRealPath(e)
	return bytesString(p), ok
}
