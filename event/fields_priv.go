package event

import (
	"slices"
	"strconv"
)

// privArg is argument i of the priv or cred events of the given types.
func privArg(name, desc string, i int, types ...Type) Field {
	kinds := []Kind{types[0].Kind()}
	if k := types[len(types)-1].Kind(); k != kinds[0] {
		kinds = append(kinds, k)
	}
	return only(num(name, FieldInt, desc, func(e *Event) (int64, bool) {
		for _, t := range types {
			if e.Type == t {
				return e.Priv.Args[i], true
			}
		}
		return 0, false
	}), kinds...)
}

// privUID is uid argument i of the types given, rendered as Falco
// renders a uid argument: the user's name in the process's user database
// (its container's or the host's), else the number.
func privUID(name, desc string, i int, types ...Type) Field {
	return only(str(name, desc, func(e *Event) (string, bool) {
		if !slices.Contains(types, e.Type) {
			return "", false
		}
		uid := e.Priv.Args[i]
		if c := e.Container; c != nil && c.Users != nil {
			if n, ok := c.Users[uint32(uid)]; ok {
				return n, true
			}
		} else if n := e.Priv.UserNames[i]; n != "" {
			return n, true
		}
		return strconv.FormatInt(uid, 10), true
	}), KindCred)
}

// privCaps is a capability set capset left the caller with.
func privCaps(name, desc string, set func(p *Priv) uint64) Field {
	return only(str(name, desc, func(e *Event) (string, bool) {
		if e.Type != TypeCapset {
			return "", false
		}
		return CapNames(set(&e.Priv)), true
	}), KindCred)
}

// privFields are the arguments of the priv and cred kinds, named as
// Falco names them.
func privFields() []Field {
	return []Field{
		only(str("evt.arg.request", "ptrace request (PTRACE_ATTACH, PTRACE_TRACEME, ...).",
			func(e *Event) (string, bool) { return PtraceRequestName(e.Priv.Args[0]), e.Type == TypePtrace }), KindPriv),
		privArg("evt.arg.pid", "pid argument of ptrace.", 1, TypePtrace),
		only(str("evt.arg.cmd", "bpf command (BPF_PROG_LOAD, BPF_MAP_CREATE, ...).",
			func(e *Event) (string, bool) { return BPFCommandName(e.Priv.Args[0]), e.Type == TypeBpf }), KindPriv),
		only(str("bpf.target_type", "Kind of bpf object the bpf command acts on: map, prog or link; absent when none is known (vigil field).",
			func(e *Event) (string, bool) {
				k, _, ok := e.BPFTarget()
				return k, ok
			}), KindPriv),
		only(num("bpf.target_id", FieldInt, "Kernel id of the map, program or link the bpf command acts on (vigil field).",
			func(e *Event) (int64, bool) {
				_, id, ok := e.BPFTarget()
				return id, ok
			}), KindPriv),
		only(boolean("bpf.target_vigil", "True when the bpf command acts on one of this vigil's own maps, programs or links (vigil field).",
			func(e *Event) (bool, bool) { return e.Priv.TargetVigil, e.Type == TypeBpf }), KindPriv),
		only(str("evt.arg.nstype", "Namespace type argument of setns (CLONE_NEWNET, ...; 0 for any).",
			func(e *Event) (string, bool) {
				if e.Type != TypeSetns {
					return "", false
				}
				return string(cloneNSFlags.append(nil, uint64(e.Priv.Args[1]))), true
			}), KindPriv),
		privArg("evt.arg.length", "Length of the module image init_module loads.", 0, TypeInitModule),
		privUID("evt.arg.uid", "uid argument of setuid, as a user name when the process's user database has it.", 0, TypeSetuid),
		privArg("evt.arg.gid", "gid argument of setgid.", 0, TypeSetgid),
		privUID("evt.arg.ruid", "Real uid argument of setreuid and setresuid, as a user name when known (-1: unchanged).", 0, TypeSetreuid, TypeSetresuid),
		privUID("evt.arg.euid", "Effective uid argument of setreuid and setresuid, as a user name when known (-1: unchanged).", 1, TypeSetreuid, TypeSetresuid),
		privUID("evt.arg.suid", "Saved uid argument of setresuid, as a user name when known (-1: unchanged).", 2, TypeSetresuid),
		privArg("evt.arg.rgid", "Real gid argument of setregid and setresgid (-1: unchanged).", 0, TypeSetregid, TypeSetresgid),
		privArg("evt.arg.egid", "Effective gid argument of setregid and setresgid (-1: unchanged).", 1, TypeSetregid, TypeSetresgid),
		privArg("evt.arg.sgid", "Saved gid argument of setresgid (-1: unchanged).", 2, TypeSetresgid),
		privCaps("evt.arg.cap_inheritable", "Inheritable capabilities after capset.", func(p *Priv) uint64 { return p.CapInheritable }),
		privCaps("evt.arg.cap_permitted", "Permitted capabilities after capset.", func(p *Priv) uint64 { return p.CapPermitted }),
		privCaps("evt.arg.cap_effective", "Effective capabilities after capset.", func(p *Priv) uint64 { return p.CapEffective }),
	}
}
