package event

// TypeSet is a set of event types, one bit per Type. It holds every value
// a Type can take, so adding event types never outgrows it; it is a value
// (comparable with ==) and costs no allocation.
type TypeSet [4]uint64

// TypeSetOf returns the set of ts.
func TypeSetOf(ts ...Type) TypeSet {
	var s TypeSet
	for _, t := range ts {
		s.Add(t)
	}
	return s
}

// AllTypes returns the set of every type vigil produces (not TypeUnknown).
func AllTypes() TypeSet {
	var s TypeSet
	for t := Type(1); int(t) < NumTypes; t++ {
		s.Add(t)
	}
	return s
}

// Has reports whether t is in s.
func (s TypeSet) Has(t Type) bool { return s[t>>6]&(1<<(t&63)) != 0 }

// Add puts t in s.
func (s *TypeSet) Add(t Type) { s[t>>6] |= 1 << (t & 63) }

// Empty reports whether s has no type.
func (s TypeSet) Empty() bool { return s == TypeSet{} }

// Union returns the types in s or o.
func (s TypeSet) Union(o TypeSet) TypeSet {
	for i := range s {
		s[i] |= o[i]
	}
	return s
}

// Intersect returns the types in both s and o.
func (s TypeSet) Intersect(o TypeSet) TypeSet {
	for i := range s {
		s[i] &= o[i]
	}
	return s
}

// Minus returns the types in s and not in o.
func (s TypeSet) Minus(o TypeSet) TypeSet {
	for i := range s {
		s[i] &^= o[i]
	}
	return s
}

// Types lists the members of s in order.
func (s TypeSet) Types() []Type {
	var out []Type
	for t := Type(1); int(t) < NumTypes; t++ {
		if s.Has(t) {
			out = append(out, t)
		}
	}
	return out
}

// Types returns the set of the event types of kind k.
func (k Kind) Types() TypeSet {
	var s TypeSet
	for t := Type(1); int(t) < NumTypes; t++ {
		if t.Kind() == k {
			s.Add(t)
		}
	}
	return s
}
