package rules

import (
	"encoding/hex"
	"strconv"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/rules/internal/ast"
)

// sendRecvKeys returns the classes of the sendrecv kind (event.SendRecvKey)
// whose key satisfies keep.
func sendRecvKeys(keep func(key int) bool) uint64 {
	var classes uint64
	for key := range event.SendRecvKeyAny {
		if keep(key) {
			classes |= 1 << key
		}
	}
	return classes
}

// isIPKey reports whether a sendrecv key is an IP socket's.
func isIPKey(key int) bool {
	c := key & event.SendRecvKeyClass
	return c == event.SendRecvKeyTCP || c == event.SendRecvKeyUDP || c == event.SendRecvKeyIPOther
}

// sendRecvFamilies are the socket classes (the key's low bits) of the
// values of the descriptor-type fields; IPv4 and IPv6 share them. A send
// or receive is always on a socket, so the file types name none.
var sendRecvFamilies = map[string]map[string]func(key int) bool{
	"fd.type":       {"ipv4": isIPKey, "ipv6": isIPKey, "unix": isUnixKey},
	"fd.typechar":   {"4": isIPKey, "6": isIPKey, "u": isUnixKey},
	"fd.sockfamily": {"ip": isIPKey, "unix": isUnixKey},
}

func isUnixKey(key int) bool { return key&event.SendRecvKeyClass == event.SendRecvKeyUnix }

// sendRecvL4 is the socket class of each value of fd.l4proto.
var sendRecvL4 = map[string]int{"tcp": event.SendRecvKeyTCP, "udp": event.SendRecvKeyUDP, "raw": event.SendRecvKeyIPOther}

// sendRecvArgClasses bounds the sendrecv kind's classes by a positive
// check of the socket's type (fd.typechar = 4), of its transport
// (fd.l4proto = udp, or != tcp: every key but the IP ones with that
// transport, which also admits the sockets fd.l4proto is empty for), or of
// the server's port (fd.sport in (80, 443): the keys with the port bit,
// the ports being the filter's, sendRecvPorts).
func sendRecvArgClasses(field, op string, vals []string) (uint64, bool) {
	if fams, ok := sendRecvFamilies[field]; ok {
		if op != "=" && op != "==" && op != "in" {
			return 0, false
		}
		return sendRecvKeys(func(key int) bool {
			for _, v := range vals {
				if is := fams[v]; is != nil && is(key) {
					return true
				}
			}
			return false
		}), true
	}
	switch field {
	case "fd.sport":
		if _, ok := sportValues(op, vals); !ok {
			return 0, false
		}
		return sendRecvKeys(func(key int) bool { return isIPKey(key) && key&event.SendRecvKeyPort != 0 }), true
	case "fd.l4proto":
	default:
		return 0, false
	}
	switch op {
	case "=", "==", "in":
		want := map[int]bool{}
		for _, v := range vals {
			if c, ok := sendRecvL4[v]; ok {
				want[c] = true
			}
		}
		return sendRecvKeys(func(key int) bool { return want[key&event.SendRecvKeyClass] }), true
	case "!=":
		c, ok := sendRecvL4[vals[0]]
		if len(vals) != 1 || !ok {
			return 0, false
		}
		return sendRecvKeys(func(key int) bool { return key&event.SendRecvKeyClass != c }), true
	}
	return 0, false
}

// sportValues are the ports a positive check of fd.sport with = or in
// names; false for another operator or a value that is not a port.
func sportValues(op string, vals []string) ([]uint16, bool) {
	if op != "=" && op != "==" && op != "in" {
		return nil, false
	}
	var ports []uint16
	for _, v := range vals {
		p, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return nil, false
		}
		ports = append(ports, uint16(p))
	}
	return ports, true
}

// appendSendRecvPorts appends the ports of the fd.sport checks of a
// resolved condition that sendRecvArgClasses bounds by the port bit: the
// filter's Ports must hold them all. Ports of a check under a negation
// only make the set larger, which admits more.
func appendSendRecvPorts(dst []uint16, e ast.Expr) []uint16 {
	switch x := e.(type) {
	case *ast.And:
		for _, c := range x.Children {
			dst = appendSendRecvPorts(dst, c)
		}
	case *ast.Or:
		for _, c := range x.Children {
			dst = appendSendRecvPorts(dst, c)
		}
	case *ast.Not:
		dst = appendSendRecvPorts(dst, x.Child)
	case *ast.Check:
		if f, ok := x.Left.(*ast.Field); ok && f.Name == "fd.sport" && !f.HasArg {
			if vals, ok := checkValues(x.Right); ok {
				if ports, ok := sportValues(x.Op, vals); ok {
					dst = append(dst, ports...)
				}
			}
		}
	}
	return dst
}

// sendRecvKind is the filter kind of sends and receives: classes are
// event.SendRecvKey values.
func sendRecvKind() *filterKind {
	return &filterKind{
		types:   event.KindSendRecv.Types(),
		classes: ^uint64(0),
		classFields: map[string]uint64{
			"fd.connected":    sendRecvKeys(func(key int) bool { return key&event.SendRecvKeyConnected != 0 }),
			"fd.name_changed": sendRecvKeys(func(key int) bool { return key&event.SendRecvKeyNameChanged != 0 }),
		},
		argClasses: sendRecvArgClasses,
	}
}

// bufferNeedle is the bytes a positive "contains" or "bcontains" check of
// evt.buffer needs in the data, which the kernel searches for; false for
// any other check, or a needle longer than the kernel compares (which
// bounds nothing).
func bufferNeedle(op string, vals []string, neg bool) (string, bool) {
	if neg || len(vals) != 1 || vals[0] == "" {
		return "", false
	}
	needle := vals[0]
	switch op {
	case "contains":
	case "bcontains":
		b, err := hex.DecodeString(needle)
		if err != nil {
			return "", false
		}
		needle = string(b)
	default:
		return "", false
	}
	return needle, len(needle) <= event.MaxBufferNeedle
}
