package sensor

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// Bounds of the kernel's open filter (bpf/events.h).
const (
	// maxOpenClauses is the width of the kernel's clause masks.
	maxOpenClauses = 32
	// maxOpenPrefix is the longest path prefix a trie key holds.
	maxOpenPrefix = int(bpf.VigilOpenFilterBoundsVIGIL_OPEN_PREFIX_MAX)
	// maxOpenEntries is how many prefixes, and how many names, one
	// generation may use: the maps hold two generations.
	maxOpenEntries = 4096
	// nameMax is the longest file name the kernel allows (NAME_MAX).
	nameMax = 255
	// maxOpenNeedles is how many distinct raw-path needles the kernel
	// holds.
	maxOpenNeedles = int(bpf.VigilOpenFilterBoundsVIGIL_OPEN_NEEDLES)
)

// openFilterState remembers the maps' generations: gen is the active one
// (0: no filter), and keys lists the entries of the active and the
// previous generation, so that each update can delete the entries of the
// one before, which no program can still be using.
type openFilterState struct {
	gen  uint32
	keys [2]openFilterKeys // indexed by generation & 1
}

type openFilterKeys struct {
	prefixes []bpf.VigilOpenPrefixKey
	names    []bpf.VigilOpenNameKey
}

// SetOpenFilter makes the kernel emit only the opens that f admits (see
// event.OpenFilter); nil or f.All emits every open. The kernel evaluates
// at most 32 clauses: more are merged (f.Reduce), which admits more, never
// less. The switch is atomic for the programs: each open is judged by the
// old filter or the new one, never a mix.
func (s *Sensor) SetOpenFilter(f *event.OpenFilter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return os.ErrClosed
	}
	genMap := s.coll.Maps[bpf.VigilMapOpenFilterGen]
	st := &s.openFilter
	if f == nil || f.All {
		if err := genMap.Update(uint32(0), uint32(0), ebpf.UpdateAny); err != nil {
			return fmt.Errorf("turning the open filter off: %w", err)
		}
		st.gen = 0
		return nil
	}
	// Generations run 1..255: the trie keys carry one byte of it.
	gen := st.gen%255 + 1
	old := &st.keys[gen&1]
	if err := s.deleteOpenKeys(old); err != nil {
		return err
	}
	k := compileOpenFilter(f.Reduce(maxOpenClauses), gen)
	if err := s.coll.Maps[bpf.VigilMapOpenFilters].Update(gen&1, &k.filter, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("writing the open filter: %w", err)
	}
	for i := range k.prefixes {
		if err := s.coll.Maps[bpf.VigilMapOpenPrefixes].Update(&k.prefixes[i], k.prefixMasks[i], ebpf.UpdateAny); err != nil {
			return fmt.Errorf("writing open filter prefixes: %w", err)
		}
		old.prefixes = append(old.prefixes, k.prefixes[i])
	}
	for i := range k.names {
		if err := s.coll.Maps[bpf.VigilMapOpenNames].Update(&k.names[i], k.nameMasks[i], ebpf.UpdateAny); err != nil {
			return fmt.Errorf("writing open filter names: %w", err)
		}
		old.names = append(old.names, k.names[i])
	}
	if err := genMap.Update(uint32(0), gen, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("switching the open filter: %w", err)
	}
	st.gen = gen
	return nil
}

// deleteOpenKeys removes a generation's trie and name entries.
func (s *Sensor) deleteOpenKeys(k *openFilterKeys) error {
	for i := range k.prefixes {
		if err := s.coll.Maps[bpf.VigilMapOpenPrefixes].Delete(&k.prefixes[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("deleting open filter prefixes: %w", err)
		}
	}
	for i := range k.names {
		if err := s.coll.Maps[bpf.VigilMapOpenNames].Delete(&k.names[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("deleting open filter names: %w", err)
		}
	}
	*k = openFilterKeys{}
	return nil
}

// kernelOpenFilter is a filter in the kernel's terms.
type kernelOpenFilter struct {
	filter      bpf.VigilOpenFilter
	prefixes    []bpf.VigilOpenPrefixKey
	prefixMasks []uint32
	names       []bpf.VigilOpenNameKey
	nameMasks   []uint32
}

// openSyscallTypes are the event types of VIGIL_SYS_OPEN .. CREAT, in the
// order of the kernel's combo index.
var openSyscallTypes = [4]event.Type{event.TypeOpen, event.TypeOpenat, event.TypeOpenat2, event.TypeCreat}

// compileOpenFilter turns at most 32 clauses into the kernel's tables
// under generation gen. What the kernel cannot hold (a prefix longer than
// a key, too many entries, a fifth needle) loses that bound, which admits
// more.
func compileOpenFilter(f *event.OpenFilter, gen uint32) *kernelOpenFilter {
	k := &kernelOpenFilter{}
	prefixes := map[string]uint32{}
	names := map[string]uint32{}
	needles := map[string]int{}
	for i, c := range f.Clauses[:min(len(f.Clauses), maxOpenClauses)] {
		bit := uint32(1) << i
		if c.RawContains != "" {
			nd := c.RawContains[:min(len(c.RawContains), event.OpenRawNeedle)]
			j, ok := needles[nd]
			if !ok && len(needles) < maxOpenNeedles {
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
		for sys, t := range openSyscallTypes {
			if c.Types&(1<<t) == 0 {
				continue
			}
			for acc := range 4 {
				if c.Access&(1<<acc) == 0 {
					continue
				}
				if c.Results&event.OpenSucceeded != 0 {
					k.filter.Combo[sys*8+acc*2] |= bit
				}
				if c.Results&event.OpenFailed != 0 {
					k.filter.Combo[sys*8+acc*2+1] |= bit
				}
			}
		}
		anyPath := c.AnyPath || len(c.Prefixes) > maxOpenEntries || len(c.Names) > maxOpenEntries
		for _, p := range c.Prefixes {
			anyPath = anyPath || len(p) > maxOpenPrefix
		}
		if anyPath {
			k.filter.PathAny |= bit
			continue
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
	if len(prefixes) > maxOpenEntries || len(names) > maxOpenEntries {
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
		var key bpf.VigilOpenPrefixKey
		key.Prefixlen = uint32(1+len(p)) * 8
		key.Data[0] = uint8(gen)
		copy(key.Data[1:], p)
		k.prefixes = append(k.prefixes, key)
		k.prefixMasks = append(k.prefixMasks, mask)
	}
	// Names that agree on the key share an entry with both masks.
	byKey := map[bpf.VigilOpenNameKey]uint32{}
	for n, mask := range names {
		byKey[nameKey(n, gen)] |= mask
		k.filter.NameLens[len(n)/32] |= 1 << (len(n) % 32)
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
func setPairBits(f *bpf.VigilOpenFilter, p string) {
	if len(p) < 3 {
		for i := range f.Pairs {
			f.Pairs[i] = ^uint32(0)
		}
		return
	}
	pair := int(p[1])<<8 | int(p[2])
	f.Pairs[pair/32] |= 1 << (pair % 32)
}

// nameKey is the kernel's key for a file name: its length and its first
// and last 8 bytes as little-endian words (bpf/events.h).
func nameKey(name string, gen uint32) bpf.VigilOpenNameKey {
	k := bpf.VigilOpenNameKey{Len: uint32(len(name)), Gen: gen}
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
