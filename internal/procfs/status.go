package procfs

import (
	"bytes"
	"fmt"
	"strconv"
)

// maxStatusBytes bounds /proc/<pid>/status: about 1.5 KiB, more with the
// CPU and node masks of a large machine.
const maxStatusBytes = 64 << 10

// Status is what vigil reads of /proc/<pid>/status (proc(5)).
type Status struct {
	// UID and GID are the real, effective, saved and filesystem ids.
	UID, GID [4]uint32
	// VmRSS and VmHWM are the resident set now and at its peak, in bytes.
	VmRSS, VmHWM uint64
	// CapInh, CapPrm and CapEff are the inheritable, permitted and
	// effective capability sets (bit n: capability n).
	CapInh, CapPrm, CapEff uint64
	// HasIDs says the Uid and Gid lines were there, as they always are;
	// HasMemory says the VmRSS and VmHWM lines were, which kernel threads
	// and zombies lack; HasCaps says the CapInh, CapPrm and CapEff lines
	// were.
	HasIDs, HasMemory, HasCaps bool
}

// ParseStatus parses the contents of /proc/<pid>/status. Lines it does not
// use are skipped; a line it uses must be well formed.
func ParseStatus(b []byte) (Status, error) {
	var s Status
	if len(b) > maxStatusBytes {
		return Status{}, fmt.Errorf("parsing status: %w", ErrTooLarge)
	}
	var uid, gid, rss, hwm bool
	var caps int
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		var err error
		switch string(key) {
		case "Uid":
			s.UID, err = parseIDs(val)
			uid = true
		case "Gid":
			s.GID, err = parseIDs(val)
			gid = true
		case "VmRSS":
			s.VmRSS, err = parseKB(val)
			rss = true
		case "VmHWM":
			s.VmHWM, err = parseKB(val)
			hwm = true
		case "CapInh":
			s.CapInh, err = parseCaps(val)
			caps |= 1
		case "CapPrm":
			s.CapPrm, err = parseCaps(val)
			caps |= 2
		case "CapEff":
			s.CapEff, err = parseCaps(val)
			caps |= 4
		default:
			continue
		}
		if err != nil {
			return Status{}, fmt.Errorf("parsing status %s: %w", key, err)
		}
	}
	s.HasIDs, s.HasMemory, s.HasCaps = uid && gid, rss && hwm, caps == 7
	return s, nil
}

// parseCaps parses a capability set line's value: 16 hex digits.
func parseCaps(val []byte) (uint64, error) {
	v, err := strconv.ParseUint(string(bytes.TrimSpace(val)), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return v, nil
}

// parseIDs parses the four ids of a Uid or Gid line.
func parseIDs(val []byte) ([4]uint32, error) {
	var ids [4]uint32
	f := bytes.Fields(val)
	if len(f) != len(ids) {
		return ids, fmt.Errorf("%w: %d ids", ErrMalformed, len(f))
	}
	for i, s := range f {
		v, err := strconv.ParseUint(string(s), 10, 32)
		if err != nil {
			return ids, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		ids[i] = uint32(v)
	}
	return ids, nil
}

// parseKB parses a "<n> kB" value into bytes.
func parseKB(val []byte) (uint64, error) {
	f := bytes.Fields(val)
	if len(f) != 2 || string(f[1]) != "kB" {
		return 0, fmt.Errorf("%w: %q", ErrMalformed, val)
	}
	kb, err := strconv.ParseUint(string(f[0]), 10, 54)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return kb << 10, nil
}

// ReadStatus reads and parses procRoot/<pid>/status.
func ReadStatus(procRoot string, pid uint32) (Status, error) {
	b, err := readCapped(pidPath(procRoot, pid, "status"), maxStatusBytes)
	if err != nil {
		return Status{}, err
	}
	return ParseStatus(b)
}
