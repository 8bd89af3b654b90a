package sink

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// httpDest POSTs each record as a request body, as Falco's http_output
// does: the alert's JSON without its newline, Content-Type application/json
// (text/plain for CEF).
type httpDest struct {
	client      *http.Client
	url         string
	header      http.Header
	retries     int
	backoff     backoff
	reader      bytes.Reader
	transport   *http.Transport
	contentType string
}

// errPermanent marks an answer that retrying cannot change (a 4xx other
// than 408 and 429).
var errPermanent = errors.New("request refused")

func newHTTPDest(c *HTTPConfig, contentType, userAgent string) (*httpDest, error) {
	tlsConf, err := tlsConfig(c)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	tr.MaxIdleConnsPerHost = 2
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultHTTPTimeout
	}
	retries := DefaultHTTPRetries
	if c.Retries != nil {
		retries = *c.Retries
	}
	h := http.Header{"Content-Type": {contentType}, "User-Agent": {userAgent}}
	if c.UserAgent != "" {
		h.Set("User-Agent", c.UserAgent)
	}
	for k, v := range c.Headers {
		h.Set(k, v)
	}
	return &httpDest{client: &http.Client{Transport: tr, Timeout: timeout}, url: c.URL, header: h, retries: retries,
		backoff: newBackoff(c.Backoff, c.MaxBackoff), transport: tr, contentType: contentType}, nil
}

func newBackoff(initial, max time.Duration) backoff {
	if initial == 0 {
		initial = DefaultBackoff
	}
	if max == 0 {
		max = DefaultMaxBackoff
	}
	return backoff{initial: initial, max: max}
}

// tlsConfig builds the client's TLS settings from the CA and client
// certificate files.
func tlsConfig(c *HTTPConfig) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.CACert != "" {
		pem, err := os.ReadFile(c.CACert)
		if err != nil {
			return nil, fmt.Errorf("reading ca_cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("reading ca_cert %s: no PEM certificate in it", c.CACert)
		}
		conf.RootCAs = pool
	}
	if c.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("loading client_cert and client_key: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// Write POSTs rec, retrying failures that may pass (no answer, 408, 429,
// 5xx) with backoff; the error of the last attempt loses the record. Each
// record has its own retries, from the initial backoff: the queue, not the
// delay, bounds what a dead intake costs.
func (d *httpDest) Write(ctx context.Context, rec []byte) error {
	d.backoff.reset()
	for attempt := 0; ; attempt++ {
		err := d.post(ctx, rec)
		if err == nil {
			return nil
		}
		if errors.Is(err, errPermanent) || attempt == d.retries || ctx.Err() != nil {
			return err
		}
		if err := sleep(ctx, d.backoff.next()); err != nil {
			return err
		}
	}
}

func (d *httpDest) post(ctx context.Context, rec []byte) error {
	d.reader.Reset(rec)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, &d.reader)
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	req.ContentLength = int64(len(rec))
	req.Header = d.header
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	// Reading the body to its end lets the connection be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("POST %s: %s", d.url, resp.Status)
	default:
		return fmt.Errorf("POST %s: %s: %w", d.url, resp.Status, errPermanent)
	}
}

func (d *httpDest) Flush(context.Context) error { return nil }

func (d *httpDest) Close() error {
	d.transport.CloseIdleConnections()
	return nil
}
