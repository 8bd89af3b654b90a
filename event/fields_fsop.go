package event

import "strconv"

// isSymlink reports whether e is a symlink or symlinkat.
func isSymlink(e *Event) bool { return e.Type == TypeSymlink || e.Type == TypeSymlinkat }

// isLinkOrRename reports whether e names an oldpath and a newpath: link,
// linkat, rename, renameat, renameat2.
func isLinkOrRename(e *Event) bool {
	switch e.Type {
	case TypeLink, TypeLinkat, TypeRename, TypeRenameat, TypeRenameat2:
		return true
	}
	return false
}

// hasPathArg reports whether e's one path is Falco's "path" argument:
// unlink, rmdir, mkdir, mkdirat.
func hasPathArg(e *Event) bool {
	switch e.Type {
	case TypeUnlink, TypeRmdir, TypeMkdir, TypeMkdirat:
		return true
	}
	return false
}

// isChmod reports whether e is chmod, fchmod or fchmodat.
func isChmod(e *Event) bool {
	return e.Type == TypeChmod || e.Type == TypeFchmod || e.Type == TypeFchmodat
}

// hasMode reports whether e is a file-system change with a mode argument.
func hasMode(e *Event) bool { return isChmod(e) || e.Type == TypeMkdir || e.Type == TypeMkdirat }

// modeBits are the mode bits as Falco names them, in its order.
var modeBits = []struct {
	bit  uint32
	name string
}{
	{0o1, "S_IXOTH"}, {0o2, "S_IWOTH"}, {0o4, "S_IROTH"}, {0o10, "S_IXGRP"}, {0o20, "S_IWGRP"}, {0o40, "S_IRGRP"},
	{0o100, "S_IXUSR"}, {0o200, "S_IWUSR"}, {0o400, "S_IRUSR"}, {0o1000, "S_ISVTX"}, {0o2000, "S_ISGID"}, {0o4000, "S_ISUID"},
}

// AppendModeFlags appends mode as Falco renders a mode argument
// (S_IXUSR|S_IRUSR|S_ISUID), 0 when no bit is set.
func AppendModeFlags(dst []byte, mode uint32) []byte {
	start := len(dst)
	for _, b := range modeBits {
		if mode&b.bit != 0 {
			if len(dst) > start {
				dst = append(dst, '|')
			}
			dst = append(dst, b.name...)
		}
	}
	if len(dst) == start {
		dst = append(dst, '0')
	}
	return dst
}

// argMode is evt.arg.mode: an open's permission bits in octal, as Falco
// prints them, and the file-system changes' by their bits' names, which
// Falco's rules search (evt.arg.mode contains "S_ISUID").
func argMode(e *Event) (string, bool) {
	switch {
	case e.Type.Kind() == KindOpen:
		if !e.derived.modeOK {
			// Falco's driver keeps the permission bits only (busybox's
			// cp passes st_mode, file type included).
			e.derived.mode = append(e.derived.mode[:0], '0')
			if m := e.Open.Mode & 0o7777; m != 0 {
				e.derived.mode = strconv.AppendUint(e.derived.mode, uint64(m), 8)
			}
			e.derived.modeOK = true
		}
	case hasMode(e):
		if !e.derived.modeOK {
			e.derived.mode = AppendModeFlags(e.derived.mode[:0], e.FS.Mode)
			e.derived.modeOK = true
		}
	default:
		return "", false
	}
	return bytesString(e.derived.mode), true
}

// argModeField is evt.arg.mode.
func argModeField() Field {
	return only(str("evt.arg.mode", "Mode argument: of an open that creates a file, in octal (0644); of chmod, fchmod, "+
		"fchmodat, mkdir and mkdirat, by its bits' names (S_IRUSR|S_IXUSR|S_ISUID).", argMode), KindOpen, KindFS)
}

// fsPathArg is the one path of a file-system change when has says the
// event names it so, for the fields other kinds share (evt.arg.name,
// evt.arg.filename).
func fsPathArg(e *Event, has func(*Event) bool) (string, bool) {
	if !has(e) {
		return "", false
	}
	return bytesString(e.FS.Path1), true
}

// isUnlinkat reports whether e is unlinkat, whose path Falco names "name".
func isUnlinkat(e *Event) bool { return e.Type == TypeUnlinkat }

// isChmodPath reports whether e is chmod or fchmodat, whose path Falco
// names "filename".
func isChmodPath(e *Event) bool { return e.Type == TypeChmod || e.Type == TypeFchmodat }

// fsPathArgOf returns, for a field that names a path argument of the
// file-system kind, the event types that have it (has) and whether it is
// their second path; false for any other field. It is the one place the
// mapping is written: the fields and the filter derivation (FSPathField)
// read it.
func fsPathArgOf(name string) (has func(*Event) bool, second, ok bool) {
	switch name {
	case "evt.arg.target":
		return isSymlink, false, true
	case "evt.arg.linkpath":
		return isSymlink, true, true
	case "evt.arg.oldpath":
		return isLinkOrRename, false, true
	case "evt.arg.newpath":
		return isLinkOrRename, true, true
	case "evt.arg.path":
		return hasPathArg, false, true
	case "evt.arg.name":
		return isUnlinkat, false, true
	case "evt.arg.filename":
		return isChmodPath, false, true
	}
	return nil, false, false
}

// The paths of a file-system change, as a filter clause names them
// (Clause.Paths): FS.Path1 and FS.Path2.
const (
	FSPath1 = 1 << 0
	FSPath2 = 1 << 1
)

// FSPathField returns the event types of the fs kind on which field name
// is a path argument, and which path it is (FSPath1 or FSPath2); false
// when it is not one. On the kind's other types the field is absent.
func FSPathField(name string) (TypeSet, uint8, bool) {
	has, second, ok := fsPathArgOf(name)
	if !ok {
		return TypeSet{}, 0, false
	}
	var types TypeSet
	var e Event
	for _, t := range KindFS.Types().Types() {
		e.Type = t
		if has(&e) {
			types = types.Union(TypeSetOf(t))
		}
	}
	if second {
		return types, FSPath2, true
	}
	return types, FSPath1, true
}

// FSFilterPathMax is the longest path of a file-system change the kernel's
// filter judges (bpf/events.h, VIGIL_FILTER_RAW_SCAN; the sensor checks it).
const FSFilterPathMax = 256

// FSFilterPath returns a path of a file-system change as the kernel's
// filter judges it (bpf/kinds/fs.h): the caller's string when it is
// already its final name, absolute and clean (no empty, "." or ".."
// component, no trailing slash), as the sensor would join it, and at most
// FSFilterPathMax bytes; nil (unknown) for any other.
func FSFilterPath(raw []byte, truncated bool) []byte {
	n := len(raw)
	if truncated || n == 0 || n > FSFilterPathMax || raw[0] != '/' {
		return nil
	}
	if n == 1 {
		return raw
	}
	last := 0
	for i := 1; i <= n; i++ {
		if i < n && raw[i] != '/' {
			continue
		}
		switch comp := raw[last+1 : i]; string(comp) {
		case "", ".", "..":
			return nil
		}
		last = i
	}
	return raw
}

// fsPath is a path argument field of the file-system kinds, present on the
// event types fsPathArgOf gives.
func fsPath(name, desc string) Field {
	has, second, _ := fsPathArgOf(name)
	return only(str(name, desc, func(e *Event) (string, bool) {
		if !has(e) {
			return "", false
		}
		if second {
			return bytesString(e.FS.Path2), true
		}
		return bytesString(e.FS.Path1), true
	}), KindFS)
}

// socketFamilies names the address families as Falco renders socket's
// domain argument.
var socketFamilies = map[uint32]string{
	0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 3: "AF_AX25", 4: "AF_IPX", 5: "AF_APPLETALK", 6: "AF_NETROM",
	7: "AF_BRIDGE", 8: "AF_ATMPVC", 9: "AF_X25", 10: "AF_INET6", 11: "AF_ROSE", 12: "AF_DECnet", 13: "AF_NETBEUI",
	14: "AF_SECURITY", 15: "AF_KEY", 16: "AF_NETLINK", 17: "AF_PACKET", 18: "AF_ASH", 19: "AF_ECONET",
	20: "AF_ATMSVC", 21: "AF_RDS", 22: "AF_SNA", 23: "AF_IRDA", 24: "AF_PPPOX", 25: "AF_WANPIPE", 26: "AF_LLC",
	27: "AF_IB", 28: "AF_MPLS", 29: "AF_CAN", 30: "AF_TIPC", 31: "AF_BLUETOOTH", 32: "AF_IUCV", 33: "AF_RXRPC",
	34: "AF_ISDN", 35: "AF_PHONET", 36: "AF_IEEE802154", 37: "AF_CAIF", 38: "AF_ALG", 39: "AF_NFC", 40: "AF_VSOCK",
	41: "AF_KCM", 42: "AF_QIPCRTR", 43: "AF_SMC", 44: "AF_XDP", 45: "AF_MCTP",
}

// FamilyName is the name of address family f as Falco renders socket's
// domain argument (AF_INET, AF_PACKET), or f as a number.
func FamilyName(f uint32) string {
	if n, ok := socketFamilies[f]; ok {
		return n
	}
	return strconv.FormatUint(uint64(f), 10)
}

// oCreat is O_CREAT.
const oCreat = 0o100

// isOpenExec is evt.is_open_exec: an open that creates a file (O_CREAT)
// with an execute bit in its mode, as Falco defines it.
func isOpenExec(e *Event) (bool, bool) {
	if e.Type.Kind() != KindOpen {
		return false, false
	}
	return e.Open.Flags&oCreat != 0 && e.Open.Mode&0o111 != 0, true
}

func fsopFields() []Field {
	isSocket := func(e *Event) bool { return e.Type == TypeSocket }
	return []Field{
		only(boolean("evt.is_open_exec", "True for an open that creates a file (O_CREAT) with an execute bit in its mode.", isOpenExec), KindOpen),
		only(boolean("evt.is_open_create", "True for an open that created its file.",
			func(e *Event) (bool, bool) { return e.Open.Created, e.Type.Kind() == KindOpen }), KindOpen),
		fsPath("evt.arg.target", "Target of symlink/symlinkat: the link's content, as the caller passed it."),
		fsPath("evt.arg.linkpath", "Path of the link symlink/symlinkat creates, made absolute against the cwd or dirfd."),
		fsPath("evt.arg.oldpath", "Existing path of link, linkat and the renames, made absolute against the cwd or dirfd."),
		fsPath("evt.arg.newpath", "New path of link, linkat and the renames, made absolute against the cwd or dirfd."),
		fsPath("evt.arg.path", "Path of unlink, rmdir, mkdir and mkdirat, made absolute against the cwd or dirfd."),
		only(str("evt.arg.domain", "Address family argument of socket (AF_INET, AF_PACKET, ...).",
			func(e *Event) (string, bool) { return FamilyName(e.Socket.Domain), isSocket(e) }), KindSocket),
		only(num("evt.arg.type", FieldUint, "Type argument of socket (SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_RAW = 3, with its flags).",
			func(e *Event) (int64, bool) { return int64(e.Socket.Type), isSocket(e) }), KindSocket),
		only(num("evt.arg.proto", FieldUint, "Protocol argument of socket.",
			func(e *Event) (int64, bool) { return int64(e.Socket.Proto), isSocket(e) }), KindSocket),
	}
}
