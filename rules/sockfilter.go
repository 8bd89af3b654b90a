package rules

import (
	"slices"
	"strings"

	"github.com/vigil-sensor/vigil/event"
)

// fileClass is the class of a file that is not a socket with a family
// (event.DupKeyFile): a unix socket file without one is also typed unix.
const fileClass = 1 << event.DupKeyFile

// socketFamilyClasses are the socket and dup kinds' classes (event.SocketKey,
// event.DupKey: the address family, or any other file) of the values of
// the descriptor-type fields.
var socketFamilyClasses = map[string]map[string]uint64{
	"fd.type": {"ipv4": 1 << event.AFInet, "ipv6": 1 << event.AFInet6, "unix": 1<<event.AFUnix | fileClass,
		"file": fileClass, "directory": fileClass, "pipe": fileClass},
	"fd.typechar":   {"4": 1 << event.AFInet, "6": 1 << event.AFInet6, "u": 1<<event.AFUnix | fileClass, "f": fileClass, "d": fileClass, "p": fileClass},
	"fd.sockfamily": {"ip": 1<<event.AFInet | 1<<event.AFInet6, "unix": 1 << event.AFUnix},
}

// socketArgClasses bounds the socket and dup kinds' classes by a positive
// check of socket's domain (evt.arg.domain contains AF_PACKET: the
// families whose name satisfies it, and always the key that folds the rest
// together) or of the descriptor's type (fd.typechar = 4: the families
// that have it). A dup has no domain: no class of it matches one.
func socketArgClasses(field, op string, vals []string) (uint64, bool) {
	if values, ok := socketFamilyClasses[field]; ok {
		if op != "=" && op != "==" && op != "in" {
			return 0, false
		}
		var classes uint64
		for _, v := range vals {
			classes |= values[v]
		}
		return classes, true
	}
	if field != "evt.arg.domain" {
		return 0, false
	}
	match, ok := textMatch(op)
	if !ok {
		return 0, false
	}
	classes := uint64(1) << event.SocketKeyOther
	for f := range uint32(event.SocketKeyOther) {
		s := event.FamilyName(f)
		if slices.ContainsFunc(vals, func(v string) bool { return match(s, v) }) {
			classes |= 1 << f
		}
	}
	return classes, true
}

// textMatch is how a positive check with operator op compares a rendered
// argument s with a value v of the rule; false for an operator it cannot
// judge.
func textMatch(op string) (match func(s, v string) bool, ok bool) {
	switch op {
	case "=", "==", "in":
		return func(s, v string) bool { return s == v }, true
	case "contains":
		return strings.Contains, true
	case "icontains":
		return func(s, v string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(v)) }, true
	case "startswith":
		return strings.HasPrefix, true
	}
	return nil, false
}

// fsModeBits are the fs kind's key bits (event.FSKey) of the mode bit
// names Falco's rules search for.
var fsModeBits = map[string]int{
	"S_ISUID": event.FSKeySUID, "S_ISGID": event.FSKeySGID,
	"S_IXUSR": event.FSKeyExec, "S_IXGRP": event.FSKeyExec, "S_IXOTH": event.FSKeyExec,
}

// fsArgClasses bounds the fs kind's classes by a positive "contains" check
// of the mode (evt.arg.mode contains "S_ISUID"): the keys with a bit of
// one of the names. Any other check of the mode bounds nothing.
func fsArgClasses(field, op string, vals []string) (uint64, bool) {
	if field != "evt.arg.mode" || op != "contains" {
		return 0, false
	}
	var classes uint64
	for _, v := range vals {
		bit, ok := fsModeBits[v]
		if !ok {
			return 0, false
		}
		for k := range 8 {
			if k&bit != 0 {
				classes |= 1 << k
			}
		}
	}
	return classes, true
}
