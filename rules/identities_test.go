package rules

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
)

// TestIdentityPaths checks which files the rules name by identity: the
// absolute paths fd.identity is compared with by = and in (negated or
// not), of active rules only.
func TestIdentityPaths(t *testing.T) {
	rs := mustLoad(t, Options{}, `
- list: secrets
  items: [/etc/shadow, /etc/gshadow]
- rule: a
  desc: a
  output: a
  priority: INFO
  condition: evt.type = openat and fd.identity in (secrets) and not fd.identity = /etc/shadow-
- rule: b
  desc: b
  output: b
  priority: INFO
  condition: evt.type = openat and (fd.identity = /etc/sudoers or fd.identity startswith /root/ or fd.identity = relative)
- rule: c
  desc: c
  output: c
  priority: INFO
  enabled: false
  condition: evt.type = openat and fd.identity = /etc/disabled
`)
	want := []string{"/etc/gshadow", "/etc/shadow", "/etc/shadow-", "/etc/sudoers"}
	if got := rs.IdentityPaths(); !slices.Equal(got, want) {
		t.Errorf("IdentityPaths() = %q, want %q", got, want)
	}
}

// TestIdentityRule checks a rule on fd.identity end to end in userspace:
// it matches the file it names by any path that has its identity, its
// kernel filter admits those opens and no other, and a check the filter
// cannot bound by identity bounds nothing.
func TestIdentityRule(t *testing.T) {
	ids := &event.FileIdentities{}
	shadow := event.FileID{Dev: event.DevOf(254, 0), Ino: 817}
	ids.Set(map[event.FileID]string{shadow: "/etc/shadow"})
	cat := proc("cat", "/usr/bin/cat", "", procTree())
	open := func(path string, ino uint64, res int64) *event.Event {
		e := openEvent(cat, nil, path, unix.O_RDONLY, res)
		e.Identities = ids
		if res >= 0 {
			e.Open.Dev, e.Open.Ino = shadow.Dev, ino
		}
		return e
	}
	rs := mustLoad(t, Options{}, ruleFile("evt.type = openat and evt.is_open_read = true and fd.identity in (/etc/shadow, /etc/gshadow)"))
	f := rs.Filters()[event.KindOpen]
	for _, tt := range []struct {
		e     *event.Event
		match bool
	}{
		{open("/etc/shadow", 817, 3), true},
		{open("/var/tmp/x", 817, 3), true},    // a hard link
		{open("/mnt/e/shadow", 817, 3), true}, // a bind mount
		{open("/etc/gshadow", 900, 3), true},  // by path: not learned here
		{open("/var/tmp/y", 818, 3), false},
		{open("/etc/shadow", 0, -13), false},
	} {
		if got := len(matches(rs, tt.e)) > 0; got != tt.match {
			t.Errorf("%s ino %d: matched %v, want %v", tt.e.Open.RealPath, tt.e.Open.Ino, got, tt.match)
		}
		// A failed open passes on its path alone (the kernel judges
		// no path of a failed open), so only matches are checked.
		if got := f.Admits(tt.e); got != tt.match && tt.e.Res >= 0 {
			t.Errorf("%s ino %d: filter admits %v, want %v; filter %+v", tt.e.Open.RealPath, tt.e.Open.Ino, got, tt.match, f)
		}
	}
	if len(f.Clauses) != 1 || !slices.Equal(f.Clauses[0].Identities, []string{"/etc/shadow", "/etc/gshadow"}) {
		t.Errorf("filter %+v", f)
	}
	// Other operators, and negations, bound nothing.
	for _, cond := range []string{"evt.type = openat and fd.identity startswith /etc/", "evt.type = openat and not fd.identity = /etc/shadow",
		"evt.type = openat and fd.identity = shadow"} {
		f := mustLoad(t, Options{}, ruleFile(cond)).Filters()[event.KindOpen]
		if e := open("/var/tmp/y", 818, 3); !f.Admits(e) {
			t.Errorf("%s: the filter drops %s: %+v", cond, e.Open.RealPath, f)
		}
	}
	// An identity bound and a path bound in one rule: either alone is
	// kept, the one by identity, so another name still passes.
	rs = mustLoad(t, Options{}, ruleFile("evt.type = openat and fd.identity = /etc/shadow and fd.realpath startswith /var/"))
	if e := open("/var/tmp/x", 817, 3); !rs.Filters()[event.KindOpen].Admits(e) || len(matches(rs, e)) == 0 {
		t.Errorf("the and of an identity and a prefix drops or does not match %s", e.Open.RealPath)
	}
}
