package procfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// MaxNameBytes bounds a user or group name: LOGIN_NAME_MAX less its NUL, the
// longest name the kernel's and the C library's interfaces carry.
const MaxNameBytes = 255

// maxLineBytes bounds a passwd or group line; a longer one is skipped.
const maxLineBytes = 4 << 10

// ErrTruncated is returned, with the entries read so far, when a file is
// longer than its Limits allow.
var ErrTruncated = errors.New("file over its limits, rest ignored")

// Limits bound what is read of a passwd or group file: the caller sets them
// by how much it trusts the file and how many it keeps.
type Limits struct {
	// Bytes is how much of the file is read.
	Bytes int64
	// Entries is how many ids are kept.
	Entries int
}

// ParsePasswd reads passwd(5) lines (name:password:uid:gid:gecos:dir:shell)
// into uid -> name; the first entry of a uid wins, as getpwuid's does.
// Comments, blank, malformed and overlong lines, NIS "+" and "-" lines and
// names that are not valid (see the package comment) are skipped. It reads
// at most lim.Bytes and keeps at most lim.Entries ids: past either it
// returns what it has with ErrTruncated. Other errors are the reader's.
func ParsePasswd(r io.Reader, lim Limits) (map[uint32]string, error) {
	return parseIDNames(r, lim)
}

// ParseGroup reads group(5) lines (name:password:gid:members) into gid ->
// name, with ParsePasswd's rules: both files start with the same three
// fields.
func ParseGroup(r io.Reader, lim Limits) (map[uint32]string, error) {
	return parseIDNames(r, lim)
}

// parseIDNames reads name:password:id:... lines of at least four fields.
func parseIDNames(r io.Reader, lim Limits) (map[uint32]string, error) {
	names := map[uint32]string{}
	if lim.Bytes <= 0 || lim.Entries <= 0 {
		return names, ErrTruncated
	}
	lr := &io.LimitedReader{R: r, N: lim.Bytes}
	br := bufio.NewReaderSize(lr, maxLineBytes)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Skip the rest of an overlong line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err == nil {
				continue
			}
			line = nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return names, fmt.Errorf("reading: %w", err)
		}
		eof := err != nil
		if eof && lr.N == 0 && more(r) {
			// The byte limit cut the file: its last line read may be
			// part of one.
			return names, ErrTruncated
		}
		if name, id, ok := parseIDLine(line); ok {
			if _, dup := names[id]; !dup {
				if len(names) == lim.Entries {
					return names, ErrTruncated
				}
				names[id] = name
			}
		}
		if eof {
			return names, nil
		}
	}
}

// more reports whether r has another byte to give.
func more(r io.Reader) bool {
	var b [1]byte
	n, _ := io.ReadFull(r, b[:])
	return n > 0
}

// parseIDLine returns the name and id of one line, ok false for a line to
// skip.
func parseIDLine(line []byte) (name string, id uint32, ok bool) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	if len(line) == 0 || line[0] == '#' {
		return "", 0, false
	}
	f := bytes.SplitN(line, []byte{':'}, 4)
	if len(f) < 4 || !validName(f[0]) {
		return "", 0, false
	}
	v, err := strconv.ParseUint(string(f[2]), 10, 32)
	if err != nil {
		return "", 0, false
	}
	return string(f[0]), uint32(v), true
}

// validName reports whether a user or group name is safe to show: 1 to
// MaxNameBytes of valid UTF-8, every character graphic and none a space,
// not starting with the NIS markers '+' or '-'.
func validName(b []byte) bool {
	if len(b) == 0 || len(b) > MaxNameBytes || b[0] == '+' || b[0] == '-' {
		return false
	}
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			return false
		}
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) {
			return false
		}
		b = b[n:]
	}
	return true
}
