package sensor

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

// userRecheck is how often the user database's file is checked for changes.
const userRecheck = time.Second

// userDB maps uids to names from a passwd file, reloaded when the file
// changes. It is consulted when a Process is built, never per event.
type userDB struct {
	path    string
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

// reload rereads the file if its size or modification time changed.
func (u *userDB) reload() {
	st, err := os.Stat(u.path)
	if err != nil {
		u.names = map[uint32]string{}
		return
	}
	if u.names != nil && st.ModTime().Equal(u.mod) && st.Size() == u.size {
		return
	}
	b, err := os.ReadFile(u.path)
	if err != nil {
		u.names = map[uint32]string{}
		return
	}
	u.names = parsePasswd(b)
	u.mod, u.size = st.ModTime(), st.Size()
}

// parsePasswd reads name:password:uid:... lines; the first name of a uid wins.
func parsePasswd(b []byte) map[uint32]string {
	names := make(map[uint32]string)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.SplitN(line, ":", 4)
		if len(f) < 4 {
			continue
		}
		uid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := names[uint32(uid)]; !dup {
			names[uint32(uid)] = f[0]
		}
	}
	return names
}
