package main

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// Profiles are served on loopback only: every other host is refused, as a
// flag and in the configuration file.
func TestPprofAddrLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{":6060", true},
		{"127.0.0.1:6060", true},
		{"[::1]:6060", true},
		{"localhost:6060", true},
		{"0.0.0.0:6060", false},
		{"10.1.2.3:6060", false},
		{"example.com:6060", false},
		{"127.0.0.1", false},
	} {
		_, err := parseRunConfig([]string{"--pprof-addr", tc.addr}, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("--pprof-addr %s: %v, want ok %v", tc.addr, err, tc.ok)
		}
		var ue usageError
		if err != nil && !errors.As(err, &ue) {
			t.Errorf("--pprof-addr %s: %v is not a usage error", tc.addr, err)
		}
	}
}

// The server answers the profile index on the loopback port it bound.
func TestPprofServes(t *testing.T) {
	srv, err := listenPprof(":0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.Addr(), "127.0.0.1:") {
		t.Errorf("listening on %s, want loopback", srv.Addr())
	}
	resp, err := http.Get("http://" + srv.Addr() + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Errorf("GET /debug/pprof/: %s %.200q", resp.Status, body)
	}
}
