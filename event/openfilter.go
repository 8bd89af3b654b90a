package event

import "golang.org/x/sys/unix"

// OpenFilter is the filter of opens, the first kind filtered (Filter);
// rules.Ruleset.OpenFilter derives it.
type OpenFilter = Filter

// OpenClause is a clause of an OpenFilter.
type OpenClause = Clause

// Access classes of an open, from its flags: what evt.is_open_read and
// evt.is_open_write tell apart, and an open clause's Classes.
const (
	OpenReadOnly  = 0 // O_RDONLY without O_PATH: read
	OpenPathOnly  = 1 // O_RDONLY|O_PATH: neither read nor write
	OpenWriteOnly = 2 // O_WRONLY: write
	OpenReadWrite = 3 // O_RDWR: read and write
	// OpenAllAccess is the set of every class.
	OpenAllAccess = 1<<OpenReadOnly | 1<<OpenPathOnly | 1<<OpenWriteOnly | 1<<OpenReadWrite
	// OpenReadAccess and OpenWriteAccess are the classes with read, and
	// with write, access (evt.is_open_read, evt.is_open_write).
	OpenReadAccess  = 1<<OpenReadOnly | 1<<OpenReadWrite
	OpenWriteAccess = 1<<OpenWriteOnly | 1<<OpenReadWrite
)

// OpenAccessOf returns the access class of open flags. O_WRONLY|O_RDWR (3)
// is invalid, and is neither read nor write like O_PATH. This is the one
// place the mapping is written: evt.is_open_read and evt.is_open_write,
// the rules' filter derivation and the kernel's open filter (keyed by the
// raw O_ACCMODE and O_PATH bits, its table filled by the sensor from here)
// all go through it.
func OpenAccessOf(flags uint32) int {
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		if flags&unix.O_PATH != 0 {
			return OpenPathOnly
		}
		return OpenReadOnly
	case unix.O_WRONLY:
		return OpenWriteOnly
	case unix.O_RDWR:
		return OpenReadWrite
	}
	return OpenPathOnly
}
