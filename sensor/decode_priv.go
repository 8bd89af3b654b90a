package sensor

import (
	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// decodePriv decodes a priv_rec: a privileged operation or a change of
// credentials (bpf/kinds/priv.h). The syscall names the type and so the
// kind; the credentials after the call reach the process table
// (ProcessTable.Apply).
func decodePriv(raw []byte, r *Record) DecodeReason {
	if len(raw) < privSize {
		return DecodeShort
	}
	x := view[bpf.VigilPrivRec](raw)
	e := &r.Event
	e.Type = event.TypeUnknown
	if int(x.Syscall) < len(syscallTypes) {
		if t := syscallTypes[x.Syscall]; t.Kind() == event.KindPriv || t.Kind() == event.KindCred {
			e.Type = t
		}
	}
	if e.Type == event.TypeUnknown {
		return DecodeUnknownType
	}
	e.Res = x.Ret
	p := &e.Priv
	p.Args = x.Arg
	p.UID, p.GID, p.EUID, p.EGID = x.Uid, x.Gid, x.Euid, x.Egid
	p.CapInheritable, p.CapPermitted, p.CapEffective = x.CapInheritable, x.CapPermitted, x.CapEffective
	return 0
}
