package agenttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Metrics is one scrape of vigil's /metrics: the text as served and every
// sample's value, keyed by its name and labels as written
// (`vigil_events_total{kind="open"}`).
type Metrics struct {
	Text    string
	samples map[string]float64
}

// ParseMetrics parses a Prometheus text exposition as vigil writes it (no
// timestamps). A sample line without a value, or whose value is not a
// number, is an error.
func ParseMetrics(text []byte) (Metrics, error) {
	m := Metrics{Text: string(text), samples: map[string]float64{}}
	for line := range strings.SplitSeq(m.Text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// Label values may hold spaces: the value follows the last one.
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			return Metrics{}, fmt.Errorf("parsing metrics: no value in %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return Metrics{}, fmt.Errorf("parsing metrics line %q: %w", line, err)
		}
		m.samples[line[:i]] = v
	}
	return m, nil
}

// Value returns the sample key and whether the scrape has it.
func (m Metrics) Value(key string) (float64, bool) {
	v, ok := m.samples[key]
	return v, ok
}

// Get returns the sample key, failing the test when the scrape lacks it.
func (m Metrics) Get(t testing.TB, key string) float64 {
	t.Helper()
	v, ok := m.samples[key]
	if !ok {
		t.Fatalf("metrics lack %s", key)
	}
	return v
}

// ScrapeMetrics fetches and parses /metrics from vigil's listener at addr.
func ScrapeMetrics(ctx context.Context, client *http.Client, addr string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return Metrics{}, fmt.Errorf("scraping vigil's metrics: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Metrics{}, fmt.Errorf("scraping vigil's metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Metrics{}, fmt.Errorf("scraping vigil's metrics: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Metrics{}, fmt.Errorf("scraping vigil's metrics: %s", resp.Status)
	}
	return ParseMetrics(body)
}

// MetricsAddr finds the address vigil's metrics listener is bound to in its
// log: the addr of the "serving metrics" line, which tells the port the
// kernel picked for "127.0.0.1:0". A "serving metrics" error line (no addr)
// is passed over.
func MetricsAddr(stderr []byte) (string, error) {
	for line := range bytes.SplitSeq(stderr, []byte("\n")) {
		if !bytes.Contains(line, []byte(`msg="serving metrics"`)) {
			continue
		}
		for _, f := range bytes.Fields(line) {
			v, ok := bytes.CutPrefix(f, []byte("addr="))
			if !ok {
				continue
			}
			addr := string(v)
			if strings.HasPrefix(addr, `"`) {
				var err error
				if addr, err = strconv.Unquote(addr); err != nil {
					return "", fmt.Errorf("parsing metrics address %s: %w", v, err)
				}
			}
			return addr, nil
		}
	}
	return "", errors.New(`parsing metrics address: no "serving metrics" line with an addr in vigil's log`)
}
