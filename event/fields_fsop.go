package event

import "strconv"

// isSymlink reports whether e is a symlink or symlinkat.
func isSymlink(e *Event) bool { return e.Type == TypeSymlink || e.Type == TypeSymlinkat }

// isLink reports whether e is a link or linkat.
func isLink(e *Event) bool { return e.Type == TypeLink || e.Type == TypeLinkat }

// fsPath is a path argument field of the file-system kinds, present on the
// event types has accepts.
func fsPath(name, desc string, has func(*Event) bool, second bool) Field {
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

// familyName is socketFamilies[f], or f as a number.
func familyName(f uint32) string {
	if n, ok := socketFamilies[f]; ok {
		return n
	}
	return strconv.FormatUint(uint64(f), 10)
}

func fsopFields() []Field {
	isSocket := func(e *Event) bool { return e.Type == TypeSocket }
	return []Field{
		fsPath("evt.arg.target", "Target of symlink/symlinkat: the link's content, as the caller passed it.", isSymlink, false),
		fsPath("evt.arg.linkpath", "Path of the link symlink/symlinkat creates, made absolute against the cwd or dirfd.", isSymlink, true),
		fsPath("evt.arg.oldpath", "Existing path of link/linkat, made absolute against the cwd or dirfd.", isLink, false),
		fsPath("evt.arg.newpath", "New path of link/linkat, made absolute against the cwd or dirfd.", isLink, true),
		only(str("evt.arg.domain", "Address family argument of socket (AF_INET, AF_PACKET, ...).",
			func(e *Event) (string, bool) { return familyName(e.Socket.Domain), isSocket(e) }), KindSocket),
		only(num("evt.arg.type", FieldUint, "Type argument of socket (SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_RAW = 3, with its flags).",
			func(e *Event) (int64, bool) { return int64(e.Socket.Type), isSocket(e) }), KindSocket),
		only(num("evt.arg.proto", FieldUint, "Protocol argument of socket.",
			func(e *Event) (int64, bool) { return int64(e.Socket.Proto), isSocket(e) }), KindSocket),
	}
}
