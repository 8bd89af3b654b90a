package enrich

import (
	"context"
	"errors"
	"path"
	"strings"
	"time"

	"github.com/vigil-sensor/vigil/event"
)

// maxBatch bounds how many queued ids or updates the resolver takes before
// publishing, so answers flow under a steady stream of misses.
const maxBatch = 4096

// entry is what the resolver knows of one cgroup id.
type entry struct {
	// path is the cgroup's hierarchy path, "" when the cgroup was gone (or
	// could not be resolved) when asked: such entries answer nil until the
	// next prune drops them.
	path  string
	ref   Ref
	isRef bool
	// c is the published answer. unknown is the Known=false Container of a
	// ref containerd does not describe, kept so it is allocated once.
	c, unknown *event.Container
	// missed is set once the entry was counted as a container left
	// without metadata because containerd could not be reached.
	missed bool
}

// resolver owns the cache: it is run by a single goroutine, so its maps need
// no locks; Lookup sees them only through published snapshots.
type resolver struct {
	e        *Enricher
	entries  map[uint64]*entry
	views    map[key]containerView
	byID     map[string][]key
	byCgroup map[string]key
	dirty    bool
	// deleted holds containers whose task containerd deleted while their
	// cgroup was still there (the runtime removes it a moment later), with
	// the number of checks made; recheck fires the next check.
	deleted map[key]int
	recheck *time.Timer
}

// Rechecks of a deleted task's cgroup: every recheckEvery, at most
// maxRechecks times; the periodic prune covers what outlives them.
const (
	recheckEvery = 200 * time.Millisecond
	maxRechecks  = 25
)

// resolve is the resolver goroutine: it takes queued misses and container
// updates in batches, prunes removed cgroups, and publishes a new snapshot
// after each batch that changed an answer.
func (e *Enricher) resolve(ctx context.Context) {
	r := &resolver{
		e:        e,
		entries:  map[uint64]*entry{},
		views:    map[key]containerView{},
		byID:     map[string][]key{},
		byCgroup: map[string]key{},
		deleted:  map[key]int{},
		recheck:  time.NewTimer(time.Hour),
	}
	r.recheck.Stop()
	defer r.recheck.Stop()
	tick := time.NewTicker(e.cfg.PruneInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-e.queue:
			batch := map[uint64]bool{id: true}
		drainIDs:
			for len(batch) < maxBatch {
				select {
				case id := <-e.queue:
					batch[id] = true
				default:
					break drainIDs
				}
			}
			r.resolveIDs(batch)
		case u := <-e.updates:
			r.apply(u)
		drainUpdates:
			for n := 0; n < maxBatch; n++ {
				select {
				case u := <-e.updates:
					r.apply(u)
				default:
					break drainUpdates
				}
			}
			r.reevaluate()
		case <-tick.C:
			r.prune()
		case <-r.recheck.C:
			r.recheckDeleted()
		}
		r.bound()
		if r.dirty {
			r.publish()
		}
	}
}

// resolveIDs finds the cgroup paths of new ids and what they belong to.
func (r *resolver) resolveIDs(ids map[uint64]bool) {
	cg := r.e.cg
	for id := range ids {
		if _, ok := r.entries[id]; ok {
			delete(ids, id)
			continue
		}
		if !cg.handles {
			continue
		}
		p, err := cg.path(id)
		switch {
		case err == nil:
			r.set(id, p)
		case errors.Is(err, errGone):
			r.setGone(id)
		case cg.handles:
			r.e.failures.Add(1)
			r.e.log.Debug("resolving cgroup id", "id", id, "err", err)
			r.setGone(id)
		default:
			r.e.log.Info("cgroup file handles unavailable, walking the hierarchy instead", "err", err)
			continue
		}
		delete(ids, id)
	}
	if len(ids) == 0 {
		return
	}
	found, err := cg.walk(ids)
	if err != nil {
		r.e.failures.Add(1)
		r.e.log.Debug("walking cgroups", "err", err)
	}
	for id := range ids {
		if p, ok := found[id]; ok {
			r.set(id, p)
		} else {
			r.setGone(id)
		}
	}
}

// set caches cgroup id at path p, and asks containerd about a container
// the path names but containerd has not described.
func (r *resolver) set(id uint64, p string) {
	ent := &entry{path: p}
	ent.ref, ent.isRef = ParseCgroupPath(p)
	ent.c = r.containerFor(ent)
	r.entries[id] = ent
	r.dirty = true
	r.countMissed(id, ent)
	if ent.isRef && (ent.c == nil || !ent.c.Known) && !r.e.cfg.DisableContainerd {
		select {
		case r.e.fetch <- key{ent.ref.Namespace, ent.ref.ID}:
		default:
		}
	}
}

// setGone caches a host answer for an id whose cgroup could not be found.
func (r *resolver) setGone(id uint64) {
	r.entries[id] = &entry{}
	r.dirty = true
}

// containerFor decides what an entry answers: the container whose spec
// names this cgroup or one above it (a process in a sub-cgroup of the
// container), else the container containerd has under the id the path
// names, else a Known=false container for a recognised layout, else nil.
func (r *resolver) containerFor(ent *entry) *event.Container {
	if ent.path == "" {
		return nil
	}
	for p := ent.path; p != "/" && p != "."; p = path.Dir(p) {
		if k, ok := r.byCgroup[p]; ok {
			return r.views[k].c
		}
	}
	if !ent.isRef {
		return nil
	}
	keys := r.byID[ent.ref.ID]
	for _, k := range keys {
		if k.ns == ent.ref.Namespace {
			return r.views[k].c
		}
	}
	if ent.ref.Weak {
		return nil
	}
	if len(keys) > 0 {
		return r.views[keys[0]].c
	}
	if ent.unknown == nil {
		ent.unknown = &event.Container{ID: ShortID(ent.ref.ID), FullID: ent.ref.ID, Type: ent.ref.Type, Namespace: ent.ref.Namespace}
	}
	return ent.unknown
}

// countMissed counts the entry of a container that containerd would
// describe as a failure, once, if it has no metadata while containerd
// cannot be reached. Host cgroups, /<namespace>/<name> paths that only
// containerd could call containers, and containers of runtimes that do not
// use containerd (CRI-O, Podman) are not counted: their metadata is not
// missing for want of containerd.
func (r *resolver) countMissed(id uint64, ent *entry) {
	if ent.missed || !ent.isRef || ent.ref.Weak || r.e.cfg.DisableContainerd || !r.e.unreachable.Load() ||
		(ent.c != nil && ent.c.Known) {
		return
	}
	switch ent.ref.Type {
	case TypeContainerd, TypeDocker, TypeCRI:
	default:
		return
	}
	ent.missed = true
	r.e.failures.Add(1)
	r.e.log.Debug("container without metadata: containerd unreachable", "cgroup_id", id, "path", ent.path, "container", ent.ref.ID)
}

// apply changes the container set. Entries are re-evaluated once per batch
// by reevaluate.
func (r *resolver) apply(u update) {
	switch u.kind {
	case updateUpsert:
		r.unindex(u.view.key)
		r.index(u.view)
	case updateRemove:
		r.unindex(u.view.key)
	case updateSync:
		clear(r.views)
		clear(r.byID)
		clear(r.byCgroup)
		for _, v := range u.all {
			r.index(v)
		}
	case updateConn:
		r.dirty = true
		if r.e.unreachable.Load() {
			for id, ent := range r.entries {
				r.countMissed(id, ent)
			}
		}
	case updateTaskDeleted:
		if !r.forgetContainer(u.view.key) {
			if len(r.deleted) == 0 {
				r.recheck.Reset(recheckEvery)
			}
			r.deleted[u.view.key] = 0
		}
	}
	r.e.containers.Store(int64(len(r.views)))
	// Publish even if no answer changed, so Updated's waiters see the new
	// container count.
	if u.kind != updateTaskDeleted {
		r.dirty = true
	}
}

func (r *resolver) index(v containerView) {
	r.views[v.key] = v
	r.byID[v.id] = append(r.byID[v.id], v.key)
	if v.cgroupPath != "" && v.cgroupPath != "/" {
		r.byCgroup[v.cgroupPath] = v.key
		// Cache the container's cgroup before its first event asks: a
		// short-lived container's events then hit at once.
		if id, err := r.e.cg.id(v.cgroupPath); err == nil {
			if _, ok := r.entries[id]; !ok {
				r.set(id, v.cgroupPath)
			}
		}
	}
}

func (r *resolver) unindex(k key) {
	old, ok := r.views[k]
	if !ok {
		return
	}
	delete(r.views, k)
	keys := r.byID[k.id]
	for i, kk := range keys {
		if kk == k {
			keys = append(keys[:i], keys[i+1:]...)
			break
		}
	}
	if len(keys) == 0 {
		delete(r.byID, k.id)
	} else {
		r.byID[k.id] = keys
	}
	if r.byCgroup[old.cgroupPath] == k {
		delete(r.byCgroup, old.cgroupPath)
	}
}

// reevaluate recomputes every entry's answer after the container set
// changed.
func (r *resolver) reevaluate() {
	for _, ent := range r.entries {
		if c := r.containerFor(ent); c != ent.c {
			ent.c = c
			r.dirty = true
		}
	}
}

// prune forgets ids whose cgroup is gone (or was never found), so removed
// cgroups do not fill the cache; a later event of a forgotten id resolves
// it again.
func (r *resolver) prune() {
	for id, ent := range r.entries {
		if ent.path == "" {
			delete(r.entries, id)
			r.dirty = true
			continue
		}
		if got, err := r.e.cg.id(ent.path); err != nil || got != id {
			delete(r.entries, id)
			r.dirty = true
		}
	}
}

// forgetContainer drops the ids of container k's cgroups that are gone,
// after containerd deleted its task. It reports whether none is left.
func (r *resolver) forgetContainer(k key) (done bool) {
	v, known := r.views[k]
	done = true
	for id, ent := range r.entries {
		mine := (ent.isRef && ent.ref.ID == k.id) ||
			(known && (ent.c == v.c || under(ent.path, v.cgroupPath)))
		if !mine {
			continue
		}
		if got, err := r.e.cg.id(ent.path); err != nil || got != id {
			delete(r.entries, id)
			r.dirty = true
		} else {
			done = false
		}
	}
	return done
}

// recheckDeleted looks again at the cgroups of deleted tasks.
func (r *resolver) recheckDeleted() {
	for k, n := range r.deleted {
		if r.forgetContainer(k) || n+1 >= maxRechecks {
			delete(r.deleted, k)
		} else {
			r.deleted[k] = n + 1
		}
	}
	if len(r.deleted) > 0 {
		r.recheck.Reset(recheckEvery)
	}
}

// under reports whether cgroup path p is dir or below it.
func under(p, dir string) bool {
	if dir == "" || dir == "/" {
		return false
	}
	rest, ok := strings.CutPrefix(p, dir)
	return ok && (rest == "" || rest[0] == '/')
}

// bound keeps the cache under MaxEntries: removed cgroups go first, then
// host answers, then any, down to 7/8 of the limit so eviction is not paid
// per insert.
func (r *resolver) bound() {
	limit := r.e.cfg.MaxEntries
	if len(r.entries) <= limit {
		return
	}
	before := len(r.entries)
	r.prune()
	target := limit - limit/8
	for pass := 0; pass < 2 && len(r.entries) > target; pass++ {
		for id, ent := range r.entries {
			if len(r.entries) <= target {
				break
			}
			if pass == 1 || ent.c == nil {
				delete(r.entries, id)
			}
		}
	}
	r.e.evictions.Add(uint64(before - len(r.entries)))
	r.dirty = true
}

// publish swaps in a snapshot of the current answers and wakes waiters.
func (r *resolver) publish() {
	m := make(map[uint64]*event.Container, len(r.entries))
	for id, ent := range r.entries {
		m[id] = ent.c
	}
	old := r.e.snap.Swap(&snapshot{m: m, updated: make(chan struct{})})
	close(old.updated)
	r.e.entries.Store(int64(len(m)))
	r.dirty = false
}
