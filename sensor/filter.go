package sensor

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// Bounds of the kernel's filters, declared once in bpf/events.h.
const (
	// maxClauses is the width of the kernel's clause masks.
	maxClauses = int(bpf.VigilFilterBoundsVIGIL_FILTER_CLAUSES)
	// maxFilterKeys is how many key values a kind's filter tells apart.
	maxFilterKeys = int(bpf.VigilFilterBoundsVIGIL_FILTER_KEYS)
	// maxPrefix is the longest path prefix a trie key holds.
	maxPrefix = int(bpf.VigilFilterBoundsVIGIL_FILTER_PREFIX_MAX)
	// maxEntries is how many prefixes, and how many names, one generation
	// may use: the maps hold two generations.
	maxEntries = int(bpf.VigilFilterBoundsVIGIL_FILTER_ENTRIES)
	// nameMax is the longest file name the kernel allows (NAME_MAX).
	nameMax = int(bpf.VigilFilterBoundsVIGIL_NAME_MAX)
	// maxNeedles is how many distinct raw-path needles a filter holds.
	maxNeedles = int(bpf.VigilFilterBoundsVIGIL_FILTER_NEEDLES)
	// needleMax is how many bytes of a needle the kernel compares: a
	// clause's RawContains is cut to it (containing a string implies
	// containing its head).
	needleMax = int(bpf.VigilFilterBoundsVIGIL_FILTER_NEEDLE_MAX)
	// rawScan is how many bytes of a raw path the kernel searches; a
	// longer one is admitted.
	rawScan = int(bpf.VigilFilterBoundsVIGIL_FILTER_RAW_SCAN)
	// maxIdents is how many file identities one generation may use.
	maxIdents = int(bpf.VigilFilterBoundsVIGIL_FILTER_IDENTS)
	// upMax is how many names of a relative raw path the kernel climbs
	// from the opened file to judge the caller's name; a longer one is
	// not judged.
	upMax = int(bpf.VigilFilterBoundsVIGIL_FILTER_UP_MAX)
	// maxSuffixes is how many distinct path suffixes a filter holds; the
	// kernel compares a suffix's last needleMax bytes.
	maxSuffixes = int(bpf.VigilFilterBoundsVIGIL_FILTER_SUFFIXES)
)

// filterKeyClass returns, for a kind whose kernel side consults a filter,
// the event.Clause class of each value of the key its header computes
// (bpf/kinds/*.h), -1 for a value it never computes; nil for a kind the
// kernel does not filter. A kind becomes filterable with a case here, its
// facts in event.Filter and a filter_mask call in its header.
func filterKeyClass(kind event.Kind) func(key uint32) int {
	switch kind {
	case event.KindOpen:
		return openKeyClass
	case event.KindPriv, event.KindSocket, event.KindDup, event.KindFS, event.KindIOUring:
		// The key is the class (event.PrivKey, event.SocketKey,
		// event.DupKey, event.FSKey, event.IOURingKey).
		return func(key uint32) int { return int(key) }
	case event.KindSendRecv:
		// The key is the class (event.SendRecvKey), except the one the
		// kernel asks with before it reads the socket (compileFilter).
		return func(key uint32) int {
			if key == event.SendRecvKeyAny {
				return -1
			}
			return int(key)
		}
	}
	return nil
}

// openKeyClass is the access class of an open's key (bpf/events.h, enum
// open_filter_key): its O_ACCMODE bits and whether O_PATH is set.
func openKeyClass(key uint32) int {
	accmode, path := uint32(bpf.VigilOpenFilterKeyVIGIL_OPEN_KEY_ACCMODE), uint32(bpf.VigilOpenFilterKeyVIGIL_OPEN_KEY_PATH)
	if key&^(accmode|path) != 0 {
		return -1
	}
	flags := key & accmode
	if key&path != 0 {
		flags |= unix.O_PATH
	}
	return event.OpenAccessOf(flags)
}

// filterState remembers a kind's generations: gen is the active one (0: no
// filter), and keys lists the entries of the active and the previous
// generation, so that each update can delete the entries of the one
// before, which no program can still be using.
type filterState struct {
	gen  uint32
	keys [2]filterKeys // indexed by generation & 1
	// active is what generation gen holds, for Verify; nil with gen 0.
	active *kernelFilter
	// set is the filter SetFilter was last given, which
	// SetFileIdentities compiles again with the new identities.
	set *event.Filter
}

type filterKeys struct {
	prefixes []bpf.VigilFilterPrefixKey
	names    []bpf.VigilFilterNameKey
	idents   []bpf.VigilFilterIdentKey
}

// SetFilter makes the kernel emit only the events of kind that f admits
// (see event.Filter); nil or f.All emits every one. The kernel evaluates
// at most 32 clauses: more are merged (f.Reduce), which admits more, never
// less. The switch is atomic for the programs: each event is judged by
// the old filter or the new one, never a mix. Kinds the kernel does not
// filter are an error.
func (s *Sensor) SetFilter(kind event.Kind, f *event.Filter) error {
	keyClass := filterKeyClass(kind)
	if keyClass == nil {
		return fmt.Errorf("setting a filter: the kernel does not filter %s events", kind)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return os.ErrClosed
	}
	return s.setFilter(kind, keyClass, f)
}

// SetFileIdentities gives the kernel's open filter the identities of the
// files the rules name by identity (event.Clause.Identities): ids maps each
// identity to its file's name, as event.FileIdentities holds them. The
// open filter in place is written again under a new generation with them,
// so an open of such a file by another name (a hard link, a bind mount)
// passes. The caller must not change ids after.
func (s *Sensor) SetFileIdentities(ids map[event.FileID]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return os.ErrClosed
	}
	s.idents = ids
	st := &s.filters[event.KindOpen]
	if st.gen == 0 {
		return nil
	}
	return s.setFilter(event.KindOpen, openKeyClass, st.set)
}

// setFilter is SetFilter with s.mu held.
func (s *Sensor) setFilter(kind event.Kind, keyClass func(uint32) int, f *event.Filter) error {
	genMap := s.coll.Maps[bpf.VigilMapFilterGen]
	st := &s.filters[kind]
	if f == nil || f.All {
		if err := genMap.Update(uint32(kind), uint32(0), ebpf.UpdateAny); err != nil {
			return fmt.Errorf("turning the %s filter off: %w", kind, err)
		}
		st.gen, st.active, st.set = 0, nil, nil
		return nil
	}
	// Generations run 1..255: the trie keys carry one byte of it.
	gen := st.gen%255 + 1
	old := &st.keys[gen&1]
	if err := s.deleteFilterKeys(old); err != nil {
		return err
	}
	k := compileFilter(kind, keyClass, f.Reduce(maxClauses), gen, s.idents)
	if err := s.coll.Maps[bpf.VigilMapFilters].Update(uint32(kind)*2+(gen&1), &k.filter, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("writing the %s filter: %w", kind, err)
	}
	for i := range k.prefixes {
		if err := s.coll.Maps[bpf.VigilMapFilterPrefixes].Update(&k.prefixes[i], k.prefixMasks[i], ebpf.UpdateAny); err != nil {
			return fmt.Errorf("writing %s filter prefixes: %w", kind, err)
		}
		old.prefixes = append(old.prefixes, k.prefixes[i])
	}
	for i := range k.names {
		if err := s.coll.Maps[bpf.VigilMapFilterNames].Update(&k.names[i], k.nameMasks[i], ebpf.UpdateAny); err != nil {
			return fmt.Errorf("writing %s filter names: %w", kind, err)
		}
		old.names = append(old.names, k.names[i])
	}
	for i := range k.idents {
		if err := s.coll.Maps[bpf.VigilMapFilterIdents].Update(&k.idents[i], k.identMasks[i], ebpf.UpdateAny); err != nil {
			return fmt.Errorf("writing %s filter identities: %w", kind, err)
		}
		old.idents = append(old.idents, k.idents[i])
	}
	if err := genMap.Update(uint32(kind), gen, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("switching the %s filter: %w", kind, err)
	}
	st.gen, st.active, st.set = gen, k, f
	return nil
}

// deleteFilterKeys removes a generation's trie and name entries.
func (s *Sensor) deleteFilterKeys(k *filterKeys) error {
	for i := range k.prefixes {
		if err := s.coll.Maps[bpf.VigilMapFilterPrefixes].Delete(&k.prefixes[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("deleting filter prefixes: %w", err)
		}
	}
	for i := range k.names {
		if err := s.coll.Maps[bpf.VigilMapFilterNames].Delete(&k.names[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("deleting filter names: %w", err)
		}
	}
	for i := range k.idents {
		if err := s.coll.Maps[bpf.VigilMapFilterIdents].Delete(&k.idents[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("deleting filter identities: %w", err)
		}
	}
	*k = filterKeys{}
	return nil
}

// kernelFilter is a filter in the kernel's terms.
type kernelFilter struct {
	filter      bpf.VigilKindFilter
	prefixes    []bpf.VigilFilterPrefixKey
	prefixMasks []uint32
	names       []bpf.VigilFilterNameKey
	nameMasks   []uint32
	idents      []bpf.VigilFilterIdentKey
	identMasks  []uint32
}

// iouringRows are the io_uring kind's rows of a filter's syscalls table
// (bpf/events.h, enum iouring_filter_key): it has no syscalls.
var iouringRows = [...]event.Type{
	bpf.VigilIouringFilterKeyVIGIL_IOURING_SYS_SETUP:  event.TypeIOUringSetup,
	bpf.VigilIouringFilterKeyVIGIL_IOURING_SYS_SUBMIT: event.TypeIOUringSubmit,
}

// filterRows is the event type of each row of kind's syscalls table: the
// syscall ids of bpf/syscall_table.h, or a kind's own rows.
func filterRows(kind event.Kind) []event.Type {
	if kind == event.KindIOUring {
		return iouringRows[:]
	}
	return syscallTypes[:]
}

// filterResults is the event.Clause result bit of each class of a
// filter's results (bpf/events.h, enum filter_result).
var filterResults = [...]uint8{
	bpf.VigilFilterResultVIGIL_FILTER_RESULT_HIGH:   event.ResultHigh,
	bpf.VigilFilterResultVIGIL_FILTER_RESULT_FAILED: event.ResultFailed,
	bpf.VigilFilterResultVIGIL_FILTER_RESULT_LOW:    event.ResultLow,
}

// kernelNeedle is the part of a raw-path needle the kernel compares.
func kernelNeedle(s string) string { return s[:min(len(s), needleMax)] }

// kernelSuffix is the part of a path suffix the kernel compares: a path
// that ends with s ends with its last bytes.
func kernelSuffix(s string) string { return s[max(0, len(s)-needleMax):] }

// suffixSlots gives each distinct kernel suffix of the clauses a slot in f,
// up to maxSuffixes; ok is false for a clause with a suffix left without
// one, which must then admit any path.
func suffixSlots(f *bpf.VigilKindFilter, slots map[string]int, suffixes []string) (idx []int, ok bool) {
	for _, sfx := range suffixes {
		ks := kernelSuffix(sfx)
		j, seen := slots[ks]
		if !seen {
			if len(slots) == maxSuffixes || ks == "" {
				return nil, false
			}
			j = len(slots)
			slots[ks] = j
			f.Suffix[j] = leWord(ks)
			f.SuffixLen[j] = uint32(len(ks))
		}
		idx = append(idx, j)
	}
	return idx, true
}

// compileFilter turns at most 32 clauses of kind's filter into the kernel's
// tables under generation gen, with ids the identities of the files the
// clauses name by identity (SetFileIdentities). What the kernel cannot
// hold (a prefix longer than a key, too many entries, a needle past the
// last) loses that bound, which admits more.
func compileFilter(kind event.Kind, keyClass func(uint32) int, f *event.Filter, gen uint32, ids map[event.FileID]string) *kernelFilter {
	k := &kernelFilter{}
	idents := map[event.FileID]uint32{}
	prefixes := map[string]uint32{}
	names := map[string]uint32{}
	needles := map[string]int{}
	suffixes := map[string]int{}
	for i, c := range f.Clauses[:min(len(f.Clauses), maxClauses)] {
		bit := uint32(1) << i
		needle := c.RawContains
		if kind == event.KindFS {
			// The fs kind judges its path arguments (bpf/kinds/fs.h):
			// a clause's needle is in the path of Paths, and bounds
			// on none of its paths bound nothing.
			needle = c.Contains
			if c.Paths&(event.FSPath1|event.FSPath2) == 0 {
				c.AnyPath, needle = true, ""
			}
			if c.Paths&event.FSPath1 != 0 {
				k.filter.PathArgs[0] |= bit
			}
			if c.Paths&event.FSPath2 != 0 {
				k.filter.PathArgs[1] |= bit
			}
		}
		if needle != "" {
			nd := kernelNeedle(needle)
			j, ok := needles[nd]
			if !ok && len(needles) < maxNeedles {
				j, ok = len(needles), true
				needles[nd] = j
				k.filter.Needle[j] = leWord(nd)
				k.filter.NeedleMask[j] = ^uint64(0) >> (64 - 8*len(nd))
				k.filter.NeedleLen[j] = uint32(len(nd))
			}
			if ok {
				k.filter.RawNeed |= bit
				k.filter.NeedleClauses[j] |= bit
			}
		}
		for sys, t := range filterRows(kind) {
			if t != event.TypeUnknown && t.Kind() == kind && c.Types.Has(t) {
				k.filter.Syscalls[sys] |= bit
			}
		}
		for key := range maxFilterKeys {
			if class := keyClass(uint32(key)); class >= 0 && c.Classes&(1<<class) != 0 {
				k.filter.Keys[key] |= bit
			}
		}
		for class, r := range filterResults {
			if c.Results&r != 0 {
				k.filter.Results[class] |= bit
			}
		}
		anyPath := c.AnyPath || len(c.Prefixes) > maxEntries || len(c.Names) > maxEntries
		for _, p := range c.Prefixes {
			anyPath = anyPath || len(p) > maxPrefix
		}
		var slots []int
		if !anyPath {
			var ok bool
			slots, ok = suffixSlots(&k.filter, suffixes, c.Suffixes)
			anyPath = !ok
		}
		if anyPath {
			k.filter.PathAny |= bit
			continue
		}
		if !c.Resolved {
			// Bounds on the caller's name: the kernel judges them
			// only where the raw path is the walked one.
			k.filter.CallerName |= bit
		}
		if len(c.Identities) > 0 && kind == event.KindOpen {
			// The files named by identity: whatever path reached
			// them, their device and inode admit.
			k.filter.IdentClauses |= bit
			for id, name := range ids {
				if slices.Contains(c.Identities, name) {
					idents[id] |= bit
				}
			}
		}
		for _, j := range slots {
			k.filter.SuffixClauses[j] |= bit
		}
		for _, p := range c.Prefixes {
			prefixes[p] |= bit
		}
		for _, n := range c.Names {
			// No file name is longer than NAME_MAX: such a name
			// matches nothing the kernel reports.
			if n != "" && len(n) <= nameMax && !strings.Contains(n, "/") {
				names[n] |= bit
			}
		}
	}
	if kind == event.KindSendRecv {
		// Before it reads the socket, the kernel asks with the key no
		// event has: it holds every clause some key holds.
		for key := range maxFilterKeys {
			k.filter.Keys[event.SendRecvKeyAny] |= k.filter.Keys[key]
		}
		// The kind has no paths: the pairs bitmap holds the server
		// ports the key's port bit stands for (bpf/kinds/sendrecv.h).
		for _, p := range f.Ports {
			k.filter.Pairs[p/32] |= 1 << (p % 32)
		}
	}
	if len(idents) > maxIdents {
		// More files than the kernel holds: their clauses admit
		// every path.
		k.filter.PathAny |= k.filter.IdentClauses
		k.filter.IdentClauses = 0
		clear(idents)
	}
	for id, mask := range idents {
		k.idents = append(k.idents, bpf.VigilFilterIdentKey{Ino: id.Ino, Dev: id.Dev, Gen: uint16(gen), Kind: uint16(kind)})
		k.identMasks = append(k.identMasks, mask)
		h := identHint(id.Ino)
		k.filter.IdentHints[h/32] |= 1 << (h % 32)
	}
	if len(prefixes) > maxEntries || len(names) > maxEntries {
		k.filter.PathAny = ^uint32(0)
		return k
	}
	// The trie returns only the longest prefix of a path: each entry
	// carries the clauses of the shorter prefixes it extends.
	keys := make([]string, 0, len(prefixes))
	for p := range prefixes {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	for _, p := range keys {
		setPairBits(&k.filter, p)
		mask := prefixes[p]
		for q, m := range prefixes {
			if strings.HasPrefix(p, q) {
				mask |= m
			}
		}
		var key bpf.VigilFilterPrefixKey
		key.Prefixlen = uint32(2+len(p)) * 8
		key.Data[0] = uint8(kind)
		key.Data[1] = uint8(gen)
		copy(key.Data[2:], p)
		k.prefixes = append(k.prefixes, key)
		k.prefixMasks = append(k.prefixMasks, mask)
	}
	// Names that agree on the key share an entry with both masks.
	byKey := map[bpf.VigilFilterNameKey]uint32{}
	for n, mask := range names {
		byKey[nameKey(kind, n, gen)] |= mask
		k.filter.NameLens[len(n)/32] |= 1 << (len(n) % 32)
		h := nameHint(n)
		k.filter.NameHints[h/32] |= 1 << (h % 32)
	}
	for key, mask := range byKey {
		k.names = append(k.names, key)
		k.nameMasks = append(k.nameMasks, mask)
	}
	return k
}

// setPairBits marks the first two bytes after the slash of prefix p in
// the kernel's prefilter; a prefix too short to have them lets every path
// through to the trie.
func setPairBits(f *bpf.VigilKindFilter, p string) {
	if len(p) < 3 {
		for i := range f.Pairs {
			f.Pairs[i] = ^uint32(0)
		}
		return
	}
	pair := int(p[1])<<8 | int(p[2])
	f.Pairs[pair/32] |= 1 << (pair % 32)
}

// filterHints is how many bits each of the kernel's name and identity
// prefilters holds.
const filterHints = uint32(bpf.VigilFilterBoundsVIGIL_FILTER_HINTS)

// nameHint is the bit of a (non-empty) file name in the kernel's name
// prefilter, VIGIL_NAME_HINT of bpf/events.h: its length, first and last
// byte.
func nameHint(name string) uint32 {
	first, last := uint32(name[0]), uint32(name[len(name)-1])
	return (first ^ last<<4 ^ uint32(len(name))<<7) & (filterHints - 1)
}

// identHint is the bit of an inode number in the kernel's identity
// prefilter, VIGIL_IDENT_HINT of bpf/events.h.
func identHint(ino uint64) uint32 {
	return uint32(ino^ino>>12) & (filterHints - 1)
}

// nameKey is the kernel's key for a file name: its length and its first
// and last 8 bytes as little-endian words (bpf/events.h).
func nameKey(kind event.Kind, name string, gen uint32) bpf.VigilFilterNameKey {
	k := bpf.VigilFilterNameKey{Len: uint32(len(name)), Gen: uint16(gen), Kind: uint16(kind)}
	k.Head = leWord(name[:min(len(name), 8)])
	if len(name) > 8 {
		k.Tail = leWord(name[len(name)-8:])
	}
	return k
}

// leWord is what a 64-bit load from memory holding b (at most 8 bytes,
// zero-padded) reads on a little-endian machine.
func leWord(b string) uint64 {
	var w uint64
	for i := len(b) - 1; i >= 0; i-- {
		w = w<<8 | uint64(b[i])
	}
	return w
}
