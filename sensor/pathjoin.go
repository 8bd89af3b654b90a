package sensor

// appendJoin appends to dst the lexically cleaned absolute path of rel
// relative to dir (rel alone when it is absolute) and returns it. Without an
// absolute base the caller's string is kept as it is. It allocates only when
// dst lacks capacity.
func appendJoin(dst, dir, rel []byte) []byte {
	start := len(dst)
	switch {
	case len(rel) > 0 && rel[0] == '/':
		dst = append(dst, rel...)
	case len(dir) > 0 && dir[0] == '/':
		dst = append(dst, dir...)
		dst = append(dst, '/')
		dst = append(dst, rel...)
	default:
		return append(dst, rel...)
	}
	return dst[:start+len(cleanRooted(dst[start:]))]
}

// cleanRooted cleans the rooted path b in place as path.Clean does: it
// collapses repeated slashes, drops "." elements and resolves ".." against
// the preceding element (never above the root). Writing never overtakes
// reading, so the result is a prefix of b's storage.
func cleanRooted(b []byte) []byte {
	n := len(b)
	w, r := 1, 1
	for r < n {
		switch {
		case b[r] == '/':
			r++
		case b[r] == '.' && (r+1 == n || b[r+1] == '/'):
			r++
		case b[r] == '.' && b[r+1] == '.' && (r+2 == n || b[r+2] == '/'):
			r += 2
			if w > 1 {
				w--
				for w > 1 && b[w] != '/' {
					w--
				}
			}
		default:
			if w != 1 {
				b[w] = '/'
				w++
			}
			for ; r < n && b[r] != '/'; r++ {
				b[w] = b[r]
				w++
			}
		}
	}
	return b[:w]
}
