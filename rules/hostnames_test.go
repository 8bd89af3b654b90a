package rules

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/vigil-sensor/vigil/event"
)

// TestHostNames checks the names a ruleset asks to resolve and that the
// fd.*ip.name fields match through the resolved table, as in Falco.
func TestHostNames(t *testing.T) {
	rs := mustLoad(t, Options{}, ruleFile(`evt.type = connect and (fd.sip.name in (b.example, a.example) or fd.cip.name = "c.example")`),
		"- rule: u\n  desc: u\n  output: u\n  priority: INFO\n  enabled: false\n  condition: evt.type = connect and fd.sip.name = disabled.example\n")
	if got := rs.HostNames(); !slices.Equal(got, []string{"a.example", "b.example", "c.example"}) {
		t.Errorf("HostNames() = %q", got)
	}
	var tab event.HostNames
	tab.Set(map[netip.Addr][]string{
		netip.MustParseAddr("10.96.0.1"): {"x.example", "a.example"},
		netip.MustParseAddr("10.1.2.3"):  {"c.example"},
	})
	for _, tc := range []struct {
		local, remote string
		want          bool
	}{
		{"10.0.0.5:40000", "10.96.0.1:443", true},     // the second name of the server matches
		{"10.1.2.3:40000", "198.51.100.1:443", true},  // the client's name
		{"10.0.0.5:40000", "198.51.100.1:443", false}, // no name resolved to either
		{"10.0.0.5:40000", "[::ffff:10.96.0.1]:443", true},
	} {
		e := connectEvent(proc("curl", "/usr/bin/curl", "", procTree()), nil, tc.local, tc.remote, 0)
		e.HostNames = &tab
		if got := len(matches(rs, e)) > 0; got != tc.want {
			t.Errorf("%s -> %s: matched %v, want %v", tc.local, tc.remote, got, tc.want)
		}
	}
	e := connectEvent(proc("curl", "/usr/bin/curl", "", procTree()), nil, "10.0.0.5:40000", "10.96.0.1:443", 0)
	if len(matches(rs, e)) > 0 {
		t.Error("an event without a table matched a resolved name")
	}
}
