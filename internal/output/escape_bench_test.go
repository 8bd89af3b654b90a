package output

import "testing"

// BenchmarkAppendString measures the JSON string encoder on the strings an
// event record holds most: paths and command lines of plain ASCII.
func BenchmarkAppendString(b *testing.B) {
	for _, s := range []struct{ name, s string }{
		{"path", "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"},
		{"cmdline", "loadgen -loop open -rate 200000 -workers 2 -duration 14s"},
		{"short", "ENOENT"},
		{"escapes", "a\tb\"c\\d\ne\x01f\x7fg\xffh"},
	} {
		b.Run(s.name, func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.SetBytes(int64(len(s.s)))
			for b.Loop() {
				buf = AppendString(buf[:0], s.s)
			}
		})
	}
}
