package resolve

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
)

// fakeDNS answers from a map that the test changes between refreshes.
type fakeDNS map[string][]string

func (f fakeDNS) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	v, ok := f[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, s := range v {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func TestResolver(t *testing.T) {
	dns := fakeDNS{
		"kubernetes.default.svc.cluster.local": {"10.96.0.1"},
		"pool.example":                         {"192.0.2.7", "::ffff:192.0.2.8"},
		"alias.example":                        {"10.96.0.1"},
	}
	r := New(Config{Lookup: dns.lookup})
	ctx := context.Background()
	r.SetNames(ctx, []string{"kubernetes.default.svc.cluster.local", "pool.example", "alias.example", "missing.example"})
	tab := r.Table()
	check := func(addr string, want ...string) {
		t.Helper()
		got := slices.Clone(tab.Names(netip.MustParseAddr(addr)))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("names of %s = %q, want %q", addr, got, want)
		}
	}
	check("10.96.0.1", "alias.example", "kubernetes.default.svc.cluster.local")
	check("192.0.2.8", "pool.example") // a v4-mapped answer is the v4 address
	check("::ffff:192.0.2.7", "pool.example")
	check("192.0.2.9")

	// A failed refresh keeps the last answer; a new answer replaces it.
	delete(dns, "pool.example")
	dns["alias.example"] = []string{"10.0.0.9"}
	r.Refresh(ctx)
	check("192.0.2.7", "pool.example")
	check("10.96.0.1", "kubernetes.default.svc.cluster.local")
	check("10.0.0.9", "alias.example")

	// Names a reload drops leave the table.
	r.SetNames(ctx, []string{"alias.example"})
	check("10.96.0.1")
	check("192.0.2.7")
	check("10.0.0.9", "alias.example")
}
