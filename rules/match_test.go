package rules

import (
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		fold, want bool
	}{
		{"", "", false, true},
		{"", "a", false, false},
		{"*", "", false, true},
		{"*", "/any/path", false, true}, // '*' crosses '/', as fnmatch without FNM_PATHNAME
		{"/etc/*", "/etc/shadow", false, true},
		{"/etc/*", "/etc/ssh/sshd_config", false, true},
		{"/etc/*.conf", "/etc/a.conf", false, true},
		{"/etc/*.conf", "/etc/a.confx", false, false},
		{"a*b*c", "axxbyyc", false, true},
		{"a*b*c", "axxbyy", false, false},
		{"*a*a*a", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", false, false},
		{"?", "a", false, true},
		{"?", "", false, false},
		{"a?c", "abc", false, true},
		{"[abc]", "b", false, true},
		{"[abc]", "d", false, false},
		{"[a-c]x", "bx", false, true},
		{"[!a-c]x", "bx", false, false},
		{"[^a-c]x", "dx", false, true},
		{"[]]", "]", false, true},
		{"[a-]", "-", false, true},
		{"[", "[", false, true},
		{"a[", "a[", false, true},
		{`\*`, "*", false, true},
		{`\*`, "a", false, false},
		{`a\`, `a\`, false, true},
		{"/ETC/*", "/etc/x", false, false},
		{"/ETC/*", "/etc/x", true, true},
		{"[A-C]", "b", true, true},
		{"[a-c]", "B", true, true},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s, tt.fold); got != tt.want {
			t.Errorf("globMatch(%q, %q, %v) = %v, want %v", tt.pattern, tt.s, tt.fold, got, tt.want)
		}
	}
}

func TestPrefixTable(t *testing.T) {
	prefixes := []string{"/usr/lib", "/etc/", "/usr", "/bin/", "/sbin/", "/opt/x", "/var/lib/dpkg"}
	pt := newPrefixTable(prefixes)
	if strings.Join(pt.sorted, " ") != "/bin/ /etc/ /opt/x /sbin/ /usr /var/lib/dpkg" {
		t.Fatalf("sorted %v", pt.sorted)
	}
	for _, s := range []string{"", "/", "/a", "/etc", "/etc/passwd", "/usr", "/usrx", "/usr/lib/x", "/opt", "/opt/xy", "/var/lib/dpkg/info", "/var/lib/apt", "/zzz"} {
		want := false
		for _, p := range prefixes {
			if strings.HasPrefix(s, p) {
				want = true
			}
		}
		if got := pt.match(s); got != want {
			t.Errorf("match(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestPathTrie(t *testing.T) {
	pt := newPathTrie([]string{"/var/run", "/etc", "/usr/lib", "/usr", "/var/*/logs", "/home/*/.ssh"})
	tests := map[string]bool{
		"/etc":                 true,
		"/etc/":                true,
		"/etc/passwd":          true,
		"/etcx":                false,
		"/var":                 false,
		"/var/run":             true,
		"/var/run/docker.sock": true,
		"/var/lib/x":           false,
		"/var/app/logs/a.log":  true,
		"/var/app/log/a.log":   false,
		"/usr/bin/ls":          true,
		"/home/alice/.ssh/id":  true,
		"/home/alice/.sshx":    false,
		"//etc//passwd":        true,
		"etc/passwd":           true,
		"/":                    false,
		"":                     false,
	}
	for path, want := range tests {
		if got := pt.match(path); got != want {
			t.Errorf("pmatch(%q) = %v, want %v", path, got, want)
		}
	}
	if !newPathTrie([]string{"/"}).match("/anything") {
		t.Error("/ does not match everything")
	}
}

func TestContainsFold(t *testing.T) {
	for _, tt := range []struct {
		s, sub string
		want   bool
	}{
		{"Hello World", "world", true},
		{"Hello World", "hello w", true},
		{"Hello", "hellox", false},
		{"", "", true},
		{"abc", "", true},
		{"ABABC", "abc", true},
		{"ÄBC", "bc", true},
	} {
		if got := containsFold(tt.s, tt.sub); got != tt.want {
			t.Errorf("containsFold(%q, %q) = %v", tt.s, tt.sub, got)
		}
	}
}

func FuzzGlobMatch(f *testing.F) {
	f.Add("/etc/*.conf", "/etc/a.conf")
	f.Add("[!a-]x?\\", "bx")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		_ = globMatch(pattern, s, false)
		_ = globMatch(pattern, s, true)
		if !strings.ContainsAny(pattern, `*?[\`) && globMatch(pattern, s, false) != (pattern == s) {
			t.Fatalf("literal pattern %q vs %q", pattern, s)
		}
	})
}

// pathMatch is pmatch against another field's value: it must agree with a
// trie holding that one pattern.
func TestPathMatchAgreesWithTrie(t *testing.T) {
	patterns := []string{"/etc", "/etc/", "/usr/*/bin", "/", "", "/home/[a-c]*/.ssh", "etc"}
	paths := []string{"/etc", "/etc/shadow", "/etcx", "/usr/local/bin/x", "/usr/bin", "/home/bob/.ssh/id", "/home/dan/.ssh", "", "/"}
	for _, pat := range patterns {
		trie := newPathTrie([]string{pat})
		for _, path := range paths {
			if got, want := pathMatch(pat, path), trie.match(path); got != want {
				t.Errorf("pathMatch(%q, %q) = %v, trie says %v", pat, path, got, want)
			}
		}
	}
}
