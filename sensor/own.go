package sensor

import (
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// ownObjects are the kernel ids of the sensor's own maps, programs and
// links, sorted, so the decoder can tell a bpf command aimed at them
// (event.Priv.TargetVigil) without allocating. Map, program and link ids
// are separate id spaces in the kernel.
type ownObjects struct {
	maps, progs, links []uint32
}

// has reports whether the bpf object of kind typ (bpf_obj_type) and id is
// one of the sensor's.
func (o *ownObjects) has(typ, id int64) bool {
	var ids []uint32
	switch bpf.VigilBpfObjType(typ) {
	case bpf.VigilBpfObjTypeVIGIL_BPF_OBJ_MAP:
		ids = o.maps
	case bpf.VigilBpfObjTypeVIGIL_BPF_OBJ_PROG:
		ids = o.progs
	case bpf.VigilBpfObjTypeVIGIL_BPF_OBJ_LINK:
		ids = o.links
	default:
		return false
	}
	if id <= 0 || id > 1<<32-1 {
		return false
	}
	_, found := slices.BinarySearch(ids, uint32(id))
	return found
}

// collectOwn asks the kernel for the ids of coll's maps and programs and of
// links. An object whose id the kernel does not give (a perf-event link on a
// kernel without bpf_link for tracepoints) is left out: a command aimed at it
// is not marked as aimed at vigil.
func collectOwn(coll *ebpf.Collection, links []link.Link) ownObjects {
	var o ownObjects
	for _, m := range coll.Maps {
		if info, err := m.Info(); err == nil {
			if id, ok := info.ID(); ok {
				o.maps = append(o.maps, uint32(id))
			}
		}
	}
	for _, p := range coll.Programs {
		if info, err := p.Info(); err == nil {
			if id, ok := info.ID(); ok {
				o.progs = append(o.progs, uint32(id))
			}
		}
	}
	for _, l := range links {
		if info, err := l.Info(); err == nil {
			o.links = append(o.links, uint32(info.ID))
		}
	}
	slices.Sort(o.maps)
	slices.Sort(o.progs)
	slices.Sort(o.links)
	return o
}

// OwnObjectCounts returns how many maps, programs and links the sensor
// knows as its own (event.Priv.TargetVigil).
func (s *Sensor) OwnObjectCounts() (maps, progs, links int) {
	return len(s.dec.own.maps), len(s.dec.own.progs), len(s.dec.own.links)
}

// privTarget marks a bpf event aimed at one of the sensor's own objects.
func (d *Decoder) privTarget(e *event.Event) {
	e.Priv.TargetVigil = e.Type == event.TypeBpf && d.own.has(e.Priv.Args[1], e.Priv.Args[2])
}
