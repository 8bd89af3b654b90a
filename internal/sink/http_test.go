package sink

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/internal/sink/sinktest"
	"github.com/vigil-sensor/vigil/rules"
)

func TestHTTPPostsFalcoBody(t *testing.T) {
	rec := &sinktest.Intake{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	s := newSet(t, nil, fmt.Sprintf("  - type: http\n    url: %s/\n    headers: {Authorization: Bearer t0ken}\n", srv.URL))
	a := testAlert(1, rules.PriorityWarning)
	s.Alert(a, rules.PriorityWarning)
	sinktest.WaitFor(t, 5*time.Second, "one request", func() bool { return len(rec.Requests()) == 1 })
	r := rec.Requests()[0]
	want := output.NewEncoder("host-1").AppendAlert(nil, a)
	if r.Method != "POST" || r.Path != "/" || r.ContentType != "application/json" || r.UserAgent != "vigil/test" || r.Authorization != "Bearer t0ken" {
		t.Errorf("request %+v", r)
	}
	if string(r.Body) != strings.TrimSuffix(string(want), "\n") {
		t.Errorf("body\n got %s\nwant %s", r.Body, want)
	}
	p := sinktest.DecodeFalco(t, r.Body)
	if p.Rule != "Read sensitive file" || p.Priority != "Warning" || p.OutputFields["fd.name"] != "/etc/shadow" {
		t.Errorf("payload %+v", p)
	}
	sinktest.WaitFor(t, 5*time.Second, "the record counted as sent", func() bool { return s.Sinks()[0].Written == 1 })
}

// A server that fails and then answers gets the record on a retry; one
// that refuses it (a 4xx) is not asked again; one that keeps failing costs
// the record, counted as failed.
func TestHTTPRetries(t *testing.T) {
	for _, tt := range []struct {
		name           string
		answer         []int
		requests       int
		written, fails uint64
	}{
		{"recovers", []int{500, 503}, 3, 1, 0},
		{"refused", []int{400}, 1, 0, 1},
		{"keeps failing", []int{500, 500, 500, 500}, 3, 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &sinktest.Intake{Answer: tt.answer}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			s := newSet(t, nil, fmt.Sprintf("  - type: http\n    url: %s/intake\n    retries: 2\n    backoff: 5ms\n", srv.URL))
			s.Alert(testAlert(1, rules.PriorityError), rules.PriorityError)
			sinktest.WaitFor(t, 5*time.Second, "the record delivered or failed", func() bool {
				st := s.Sinks()[0]
				return st.Written+st.Failed == 1
			})
			st := s.Sinks()[0]
			if got := len(rec.Requests()); got != tt.requests || st.Written != tt.written || st.Failed != tt.fails {
				t.Errorf("%d requests, stats %+v; want %d requests, %d written, %d failed", got, st.Stats, tt.requests, tt.written, tt.fails)
			}
			if tt.fails > 0 && st.LastErr == nil {
				t.Error("no error kept for the failed record")
			}
		})
	}
}

// A stalled server times requests out; the sink's queue fills and drops,
// counted, while queueing never waits.
func TestHTTPStalledServerDrops(t *testing.T) {
	srv := sinktest.Stalled(t)
	s := newSet(t, nil, fmt.Sprintf("  - type: http\n    url: %s/\n    timeout: 50ms\n    retries: 1\n    backoff: 10ms\n    queue: 4\n", srv.URL))
	start := time.Now()
	for i := range 200 {
		s.Alert(testAlert(i, rules.PriorityWarning), rules.PriorityWarning)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("queueing 200 alerts took %v with a stalled server", d)
	}
	st := s.Sinks()[0]
	if st.Dropped < 190 || st.Written != 0 {
		t.Errorf("stats %+v, want most records dropped at the queue", st.Stats)
	}
	sinktest.WaitFor(t, 5*time.Second, "a request timing out", func() bool { return s.Sinks()[0].Failed > 0 })
	if err := s.Sinks()[0].LastErr; err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("last error %v, want a timeout", err)
	}
}

// certs are a CA and a certificate it signed, as PEM files.
type certs struct{ caFile, certFile, keyFile string }

// issue makes a CA and a leaf certificate for loopback, for client or
// server use, written to dir.
func issue(t *testing.T, dir, name string, usage x509.ExtKeyUsage) (certs, *x509.Certificate, tls.Certificate) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, leafKey := key(), key()
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
		KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, der []byte) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := certs{caFile: write(name+"-ca.pem", "CERTIFICATE", caDER), certFile: write(name+".pem", "CERTIFICATE", leafDER),
		keyFile: write(name+"-key.pem", "EC PRIVATE KEY", keyDER)}
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return c, ca, pair
}

// The intake trusts only clients with a certificate of its CA; vigil
// trusts only the intake's CA.
func TestHTTPMutualTLS(t *testing.T) {
	dir := t.TempDir()
	server, _, serverPair := issue(t, dir, "server", x509.ExtKeyUsageServerAuth)
	client, clientCA, _ := issue(t, dir, "client", x509.ExtKeyUsageClientAuth)
	clients := x509.NewCertPool()
	clients.AddCert(clientCA)
	var got atomic.Int32
	var peer atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		got.Add(1)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverPair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below are expected
	srv.StartTLS()
	defer srv.Close()

	tlsOutput := fmt.Sprintf("  - type: http\n    url: %s/\n    ca_cert: %s\n    client_cert: %s\n    client_key: %s\n    retries: 0\n",
		srv.URL, server.caFile, client.certFile, client.keyFile)
	s := newSet(t, nil, tlsOutput)
	s.Alert(testAlert(1, rules.PriorityWarning), rules.PriorityWarning)
	sinktest.WaitFor(t, 5*time.Second, "the request over mutual TLS", func() bool { return got.Load() == 1 })
	if peer.Load() != "client" {
		t.Errorf("server saw client %v", peer.Load())
	}

	// Without the client certificate the server refuses the handshake;
	// with the system's CAs vigil refuses the server.
	for _, out := range []string{
		fmt.Sprintf("  - type: http\n    url: %s/\n    ca_cert: %s\n    retries: 0\n", srv.URL, server.caFile),
		fmt.Sprintf("  - type: http\n    url: %s/\n    client_cert: %s\n    client_key: %s\n    retries: 0\n", srv.URL, client.certFile, client.keyFile),
	} {
		s := newSet(t, nil, out)
		s.Alert(testAlert(2, rules.PriorityWarning), rules.PriorityWarning)
		sinktest.WaitFor(t, 5*time.Second, "a failed handshake", func() bool { return s.Sinks()[0].Failed == 1 })
	}
	if got.Load() != 1 {
		t.Errorf("%d requests reached the handler, want 1", got.Load())
	}
}

func TestHTTPBadCA(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, []byte("not a certificate"), 0o600)
	_, err := New(parseOutputs(t, "  - type: http\n    url: https://127.0.0.1:1/\n    ca_cert: "+ca+"\n"), testDeps(t, nil))
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("error %v", err)
	}
}
