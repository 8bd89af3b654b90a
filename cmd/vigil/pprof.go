package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"
)

// pprofServer serves Go's runtime profiles (net/http/pprof) of the running
// agent, for an operator who wants to see where its CPU goes under their
// load: `go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=10`.
// Profiles show the agent's internals and a CPU profile costs CPU while it
// runs, so it listens on loopback only.
type pprofServer struct {
	srv *http.Server
	ln  net.Listener
}

// listenPprof binds addr, which must be a loopback address (a bare ":port"
// is bound on 127.0.0.1).
func listenPprof(addr string, logger *slog.Logger) (*pprofServer, error) {
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	if err := checkLoopback(addr); err != nil {
		return nil, usageError{fmt.Errorf("--pprof-addr: %w", err)}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s := &pprofServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serving pprof", "err", err)
		}
	}()
	return s, nil
}

// checkLoopback accepts host:port whose host is a loopback IP address or
// "localhost".
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address: profiles are served on loopback only", host)
	}
	return nil
}

// Addr is the address the server listens on.
func (s *pprofServer) Addr() string { return s.ln.Addr().String() }

// Close stops the server.
func (s *pprofServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
