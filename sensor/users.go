package sensor

import (
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/vigil-sensor/vigil/internal/procfs"
)

// userRecheck is how often the user database's file is checked for changes.
const userRecheck = time.Second

// Bounds on what is read of the host's passwd file: far more than a host
// keeps there (larger directories are served by NSS, not the file), and a
// bound on memory should the path name something else.
const (
	hostPasswdBytes   = 8 << 20
	hostPasswdEntries = 1 << 16
)

// userDB maps uids (or, with procfs.ParseGroup as parse, gids) to names
// from a passwd (group) file, reloaded when the file changes. It is
// consulted when a Process is built, never per event.
type userDB struct {
	path string
	// parse reads the file; procfs.ParsePasswd when nil.
	parse   func(io.Reader, procfs.Limits) (map[uint32]string, error)
	names   map[uint32]string
	checked time.Time
	// identity of the file last loaded, to notice a change.
	mod  time.Time
	size int64
}

// name returns uid's user name, or "" when the database has none.
func (u *userDB) name(uid uint32, now time.Time) string {
	if u.names == nil || now.Sub(u.checked) >= userRecheck {
		u.checked = now
		u.reload()
	}
	return u.names[uid]
}

func (u *userDB) nameNow(uid uint32) string { return u.name(uid, time.Now()) }

// reload rereads the file if its size or modification time changed. Names
// follow procfs.ParsePasswd's rules, as a container's do; a file past
// the host bounds gives the names it holds up to them.
func (u *userDB) reload() {
	st, err := os.Stat(u.path)
	if err != nil {
		u.names = map[uint32]string{}
		return
	}
	if u.names != nil && st.ModTime().Equal(u.mod) && st.Size() == u.size {
		return
	}
	parse := u.parse
	if parse == nil {
		parse = procfs.ParsePasswd
	}
	names, err := readIDFile(u.path, parse)
	if err != nil && !errors.Is(err, procfs.ErrTruncated) {
		u.names = map[uint32]string{}
		return
	}
	u.names = names
	u.mod, u.size = st.ModTime(), st.Size()
}

// readIDFile parses the passwd or group file at path. It opens it without
// blocking and reads it only if it is a regular file, so a FIFO or device
// put in its place cannot stall the table.
func readIDFile(path string, parse func(io.Reader, procfs.Limits) (map[uint32]string, error)) (map[uint32]string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("reading " + path + ": not a regular file")
	}
	return parse(f, procfs.Limits{Bytes: hostPasswdBytes, Entries: hostPasswdEntries})
}
