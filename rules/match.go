package rules

import (
	"github.com/vigil-sensor/vigil/event"
	"sort"
	"strings"
)

// Matching primitives for string operators. All of them run without
// allocating: they are on the hot path.

// strSet is the right side of `in`: a slice scan for a few values, a map
// for more (a map lookup hashes the value, which costs more than a few
// length-guarded compares).
type strSet struct {
	small []string
	big   map[string]struct{}
}

const smallSetMax = 8

func newStrSet(values []string) *strSet {
	s := &strSet{}
	seen := map[string]struct{}{}
	for _, v := range values {
		if _, dup := seen[v]; !dup {
			seen[v] = struct{}{}
			s.small = append(s.small, v)
		}
	}
	if len(s.small) > smallSetMax {
		s.big, s.small = seen, nil
	}
	return s
}

func (s *strSet) has(v string) bool {
	if s.big != nil {
		_, ok := s.big[v]
		return ok
	}
	for _, x := range s.small {
		if x == v {
			return true
		}
	}
	return false
}

// prefixTable answers "does v start with any of these prefixes". The
// prefixes are kept sorted and prefix-free (a prefix that extends another
// is dropped): then the only candidate for v is its sorted predecessor,
// found by binary search.
type prefixTable struct {
	sorted []string
}

func newPrefixTable(prefixes []string) *prefixTable {
	ps := append([]string(nil), prefixes...)
	sort.Strings(ps)
	var out []string
	for _, p := range ps {
		if len(out) > 0 && strings.HasPrefix(p, out[len(out)-1]) {
			continue
		}
		out = append(out, p)
	}
	return &prefixTable{sorted: out}
}

func (t *prefixTable) match(v string) bool {
	ps := t.sorted
	if len(ps) <= 4 {
		for _, p := range ps {
			if strings.HasPrefix(v, p) {
				return true
			}
		}
		return false
	}
	// The first prefix greater than v; its predecessor is the candidate.
	lo, hi := 0, len(ps)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if ps[mid] <= v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo > 0 && strings.HasPrefix(v, ps[lo-1])
}

// pathTrie implements pmatch: v matches when one of the search paths is a
// prefix of v made of whole path components. Components may be globs.
// Empty components are ignored, so "/var//run/" is /var/run.
type pathTrie struct {
	root pathNode
}

type pathNode struct {
	// leaf means a search path ends here: this path and everything below
	// it match, and longer search paths through here are dropped.
	leaf     bool
	children map[string]*pathNode
	globs    []globChild
}

type globChild struct {
	pattern string
	node    *pathNode
}

func newPathTrie(paths []string) *pathTrie {
	t := &pathTrie{}
	for _, p := range paths {
		t.add(p)
	}
	return t
}

func (t *pathTrie) add(path string) {
	n := &t.root
	for comp, rest, ok := nextComponent(path); ok; comp, rest, ok = nextComponent(rest) {
		if n.leaf {
			return
		}
		n = n.child(comp)
	}
	n.leaf = true
	n.children, n.globs = nil, nil
}

func (n *pathNode) child(comp string) *pathNode {
	if strings.ContainsAny(comp, "?*[") {
		for _, g := range n.globs {
			if g.pattern == comp {
				return g.node
			}
		}
		c := &pathNode{}
		n.globs = append(n.globs, globChild{pattern: comp, node: c})
		return c
	}
	if c := n.children[comp]; c != nil {
		return c
	}
	if n.children == nil {
		n.children = map[string]*pathNode{}
	}
	c := &pathNode{}
	n.children[comp] = c
	return c
}

func (t *pathTrie) match(path string) bool { return t.root.match(path) }

func (n *pathNode) match(path string) bool {
	if n.leaf {
		return true
	}
	comp, rest, ok := nextComponent(path)
	if !ok {
		return false
	}
	if c := n.children[comp]; c != nil && c.match(rest) {
		return true
	}
	for _, g := range n.globs {
		if globMatch(g.pattern, comp, false) && g.node.match(rest) {
			return true
		}
	}
	return false
}

// pathMatch reports whether path lies at or below pattern, component by
// component, as a pathTrie holding only pattern would, without building
// one: for pmatch against another field's value, on every event.
func pathMatch(pattern, path string) bool {
	for {
		pc, prest, ok := nextComponent(pattern)
		if !ok {
			return true
		}
		c, rest, ok := nextComponent(path)
		if !ok {
			return false
		}
		if pc != c && !(strings.ContainsAny(pc, "?*[") && globMatch(pc, c, false)) {
			return false
		}
		pattern, path = prest, rest
	}
}

// nextComponent returns the first non-empty component of a path and the
// rest after it.
func nextComponent(path string) (comp, rest string, ok bool) {
	for len(path) > 0 && path[0] == '/' {
		path = path[1:]
	}
	if path == "" {
		return "", "", false
	}
	if i := strings.IndexByte(path, '/'); i >= 0 {
		return path[:i], path[i:], true
	}
	return path, "", true
}

// globMatch is event.GlobMatch, Falco's glob.
func globMatch(pattern, s string, fold bool) bool { return event.GlobMatch(pattern, s, fold) }

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// containsFold reports whether s contains lowerSub ignoring ASCII case;
// lowerSub must already be lower case.
func containsFold(s, lowerSub string) bool {
	n := len(lowerSub)
	if n == 0 {
		return true
	}
	first := lowerSub[0]
	for i := 0; i+n <= len(s); i++ {
		if lowerASCII(s[i]) != first {
			continue
		}
		j := 1
		for j < n && lowerASCII(s[i+j]) == lowerSub[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}
