package event

// GlobMatch matches s against a shell pattern as fnmatch(3) does without
// flags (Falco's glob): '*' matches any run of bytes including '/', '?'
// any one byte, '[...]' a class (with '!' or '^' negation and ranges), and
// '\' quotes the next byte. With fold, ASCII letters match either case.
func GlobMatch(pattern, s string, fold bool) bool {
	px, sx := 0, 0
	// Where to resume after the last '*': the pattern after it and the
	// next byte of s it should try to swallow.
	starP, starS := -1, 0
	for sx < len(s) || px < len(pattern) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			case '[':
				if sx < len(s) {
					if ok, next, valid := matchClass(pattern, px, s[sx], fold); valid {
						if ok {
							px = next
							sx++
							continue
						}
					} else if eqByte('[', s[sx], fold) {
						// An unterminated '[' is a literal.
						px++
						sx++
						continue
					}
				}
			default:
				if c == '\\' && px+1 < len(pattern) {
					c = pattern[px+1]
					if sx < len(s) && eqByte(c, s[sx], fold) {
						px += 2
						sx++
						continue
					}
				} else if sx < len(s) && eqByte(c, s[sx], fold) {
					px++
					sx++
					continue
				}
			}
		}
		if starP >= 0 && starS < len(s) {
			starS++
			px, sx = starP+1, starS
			continue
		}
		return false
	}
	return true
}

// matchClass matches byte c against the class starting at pattern[px]
// ('['). valid is false when the class has no closing ']'.
func matchClass(pattern string, px int, c byte, fold bool) (ok bool, next int, valid bool) {
	i := px + 1
	negate := false
	if i < len(pattern) && (pattern[i] == '!' || pattern[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(pattern) {
		lo := pattern[i]
		if lo == ']' && !first {
			return ok != negate, i + 1, true
		}
		first = false
		if lo == '\\' && i+1 < len(pattern) {
			i++
			lo = pattern[i]
		}
		hi := lo
		if i+2 < len(pattern) && pattern[i+1] == '-' && pattern[i+2] != ']' {
			hi = pattern[i+2]
			if hi == '\\' && i+3 < len(pattern) {
				i++
				hi = pattern[i+2]
			}
			i += 2
		}
		lower, upper := asciiCases(c)
		if inRange(c, lo, hi) || fold && (inRange(lower, lo, hi) || inRange(upper, lo, hi)) {
			ok = true
		}
		i++
	}
	return false, 0, false
}

func inRange(c, lo, hi byte) bool { return lo <= c && c <= hi }

// eqByte compares two bytes, ASCII letters in either case with fold.
func eqByte(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	la, _ := asciiCases(a)
	lb, _ := asciiCases(b)
	return fold && la == lb
}

// asciiCases returns c in lower and in upper case when it is an ASCII
// letter, else c twice.
func asciiCases(c byte) (lower, upper byte) {
	if l := c | 0x20; 'a' <= l && l <= 'z' {
		return l, l &^ 0x20
	}
	return c, c
}
