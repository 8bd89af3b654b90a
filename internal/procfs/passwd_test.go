package procfs

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"testing/iotest"
)

// big are limits no test file reaches.
var big = Limits{Bytes: 1 << 20, Entries: 1 << 10}

func TestParsePasswd(t *testing.T) {
	in := "root:x:0:0:root:/root:/bin/sh\n" +
		"# comment\n" +
		"\n" +
		"vigil:x:1000:1000:Vigil User:/home/vigil:/bin/sh\n" +
		"dup:x:1000:1000::/:/bin/sh\n" + // first entry of a uid wins
		"josé:x:1001:1001::/home/jose:/bin/sh\n" + // non-ASCII names stay
		"użytkownik:x:1002:1002::/:/bin/sh\n" +
		"用户:x:1003:1003::/:/bin/sh\n" +
		"short:x:5\n" + // malformed
		"neg:x:-1:0::/:/bin/sh\n" +
		"big:x:4294967296:0::/:/bin/sh\n" +
		"nouid:x::0::/:/bin/sh\n" +
		"bad name:x:7:7::/:/bin/sh\n" + // a space
		"esc\x1b[31m:x:8:8::/:/bin/sh\n" + // a terminal escape
		"rtl\u202eoot:x:9:9::/:/bin/sh\n" + // a bidirectional override
		"zw\u200bj:x:10:10::/:/bin/sh\n" + // a zero-width space
		"nbsp\u00a0x:x:11:11::/:/bin/sh\n" + // a no-break space
		"bad\xffutf8:x:12:12::/:/bin/sh\n" +
		"+:::::::\n+nis:x:13:13::/:/bin/sh\n-nis:x:14:14::/:/bin/sh\n" + // NIS compat lines
		strings.Repeat("n", MaxNameBytes+1) + ":x:15:15::/:/bin/sh\n" +
		strings.Repeat("m", MaxNameBytes) + ":x:16:16::/:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false" // no final newline
	got, err := ParsePasswd(strings.NewReader(in), big)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]string{0: "root", 1000: "vigil", 1001: "josé", 1002: "użytkownik", 1003: "用户",
		16: strings.Repeat("m", MaxNameBytes), 65534: "nobody"}
	if !maps.Equal(got, want) {
		t.Errorf("ParsePasswd\n got %v\nwant %v", got, want)
	}
}

func TestParseGroup(t *testing.T) {
	in := "root:x:0:\nadm:x:4:syslog,vigil\nsudo:x:27:vigil\nwheel:x:27:\nbroken:x:5\n"
	got, err := ParseGroup(strings.NewReader(in), big)
	if err != nil || !maps.Equal(got, map[uint32]string{0: "root", 4: "adm", 27: "sudo"}) {
		t.Errorf("ParseGroup = %v, %v", got, err)
	}
}

func TestParsePasswdLimits(t *testing.T) {
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "u%d:x:%d:%d::/:/bin/sh\n", i, i, i)
	}
	file := b.String()

	// Entries: the first ones are kept.
	got, err := ParsePasswd(strings.NewReader(file), Limits{Bytes: 1 << 20, Entries: 10})
	if !errors.Is(err, ErrTruncated) || len(got) != 10 || got[9] != "u9" {
		t.Errorf("10 entries: %d kept, %v", len(got), err)
	}
	// Bytes: a line the limit cuts is not taken for a whole one, whether
	// the cut falls in its name, its uid or after it.
	for cut := 1; cut < 40; cut++ {
		got, err := ParsePasswd(strings.NewReader(file), Limits{Bytes: int64(len("u0:x:0:0::/:/bin/sh\n") + cut), Entries: 100})
		if !errors.Is(err, ErrTruncated) || !maps.Equal(got, map[uint32]string{0: "u0"}) && !maps.Equal(got, map[uint32]string{0: "u0", 1: "u1"}) {
			t.Errorf("cut %d bytes into the second line: %v, %v", cut, got, err)
		}
	}
	// A file exactly as long as the limit is whole, final newline or not.
	for _, f := range []string{"a:x:1:1::/:/bin/sh\n", "a:x:1:1::/:/bin/sh"} {
		got, err := ParsePasswd(strings.NewReader(f), Limits{Bytes: int64(len(f)), Entries: 1})
		if err != nil || got[1] != "a" {
			t.Errorf("file of exactly the limit %q: %v, %v", f, got, err)
		}
	}
	// An overlong line is skipped, not the rest of the file.
	long := "a:x:1:1::/:/bin/sh\n" + strings.Repeat("x", 3*maxLineBytes) + "\nb:x:2:2::/:/bin/sh\n" +
		"c:x:3:3:" + strings.Repeat("g", maxLineBytes) + ":/:/bin/sh\n"
	got, err = ParsePasswd(strings.NewReader(long), big)
	if err != nil || !maps.Equal(got, map[uint32]string{1: "a", 2: "b"}) {
		t.Errorf("with overlong lines: %v, %v", got, err)
	}
	// Read errors are passed on with what was read.
	got, err = ParsePasswd(iotest.TimeoutReader(strings.NewReader(file)), big)
	if err == nil || errors.Is(err, ErrTruncated) {
		t.Errorf("failing reader: %d entries, %v", len(got), err)
	}
	if got, err := ParsePasswd(strings.NewReader(file), Limits{}); !errors.Is(err, ErrTruncated) || len(got) != 0 {
		t.Errorf("zero limits: %v, %v", got, err)
	}
}

// fuzzIDNames checks the bounds and the name rule on any input.
func fuzzIDNames(f *testing.F, parse func(r *strings.Reader, lim Limits) (map[uint32]string, error)) {
	f.Add("root:x:0:0:root:/root:/bin/sh\nvigil:x:1000:1000::/home/vigil:/bin/sh\n", uint8(64))
	f.Add("a:x:1\n::::\n#x:x:2:2::/:/\njosé:x:3:\n", uint8(3))
	f.Fuzz(func(t *testing.T, in string, entries uint8) {
		lim := Limits{Bytes: int64(len(in)/2 + 1), Entries: int(entries%8) + 1}
		names, err := parse(strings.NewReader(in), lim)
		if err != nil && !errors.Is(err, ErrTruncated) {
			t.Fatal(err)
		}
		if len(names) > lim.Entries {
			t.Fatalf("%d names, limit %d", len(names), lim.Entries)
		}
		for id, name := range names {
			if !validName([]byte(name)) || !strings.Contains(in[:min(int(lim.Bytes), len(in))], name+":") {
				t.Fatalf("id %d = %q", id, name)
			}
		}
	})
}

func FuzzParsePasswd(f *testing.F) {
	fuzzIDNames(f, func(r *strings.Reader, lim Limits) (map[uint32]string, error) { return ParsePasswd(r, lim) })
}

func FuzzParseGroup(f *testing.F) {
	fuzzIDNames(f, func(r *strings.Reader, lim Limits) (map[uint32]string, error) { return ParseGroup(r, lim) })
}
