package agenttest

import "testing"

func TestParseMetrics(t *testing.T) {
	text := `# HELP vigil_process_table_size Processes in the process table.
# TYPE vigil_process_table_size gauge
vigil_process_table_size_x 1
vigil_process_table_evictions_total 3
vigil_process_table_size 10071
vigil_kernel_events_total{kind="exec"} 12
vigil_rule_matches_total{rule="Read sensitive file untrusted"} 2
big 1.0071e+06
`
	m, err := ParseMetrics([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != text {
		t.Errorf("Text = %q", m.Text)
	}
	for key, want := range map[string]float64{
		"vigil_process_table_size":                                       10071,
		"vigil_process_table_size_x":                                     1,
		`vigil_kernel_events_total{kind="exec"}`:                         12,
		`vigil_rule_matches_total{rule="Read sensitive file untrusted"}`: 2,
		"big": 1007100,
	} {
		if got, ok := m.Value(key); !ok || got != want {
			t.Errorf("Value(%s) = %v, %v; want %v", key, got, ok, want)
		}
	}
	for _, missing := range []string{"vigil_kernel_events_total", "vigil_process_table", "# TYPE vigil_process_table_size"} {
		if v, ok := m.Value(missing); ok {
			t.Errorf("Value(%s) = %v, want none", missing, v)
		}
	}
	for _, bad := range []string{"vigil_process_table_size\n", "vigil_process_table_size x\n", " 1\n", "a 1\nb\n"} {
		if _, err := ParseMetrics([]byte(bad)); err == nil {
			t.Errorf("ParseMetrics(%q) succeeded", bad)
		}
	}
	for _, none := range []string{"", "# vigil_process_table_size 1\n", "\n"} {
		m, err := ParseMetrics([]byte(none))
		if err != nil {
			t.Errorf("ParseMetrics(%q): %v", none, err)
		}
		if _, ok := m.Value("vigil_process_table_size"); ok {
			t.Errorf("ParseMetrics(%q) has a sample", none)
		}
	}
}

func TestMetricsAddr(t *testing.T) {
	for _, tc := range []struct{ log, want string }{
		{"time=x level=INFO msg=\"sensor attached\" hooks=9\ntime=x level=INFO msg=\"serving metrics\" addr=127.0.0.1:40123\n", "127.0.0.1:40123"},
		{`time=x level=INFO msg="serving metrics" addr="[::1]:9090"`, "[::1]:9090"},
		{"time=x level=ERROR msg=\"serving metrics\" err=\"accept: closed\"\ntime=x level=INFO msg=\"serving metrics\" addr=127.0.0.1:1\n", "127.0.0.1:1"},
	} {
		got, err := MetricsAddr([]byte(tc.log))
		if err != nil || got != tc.want {
			t.Errorf("MetricsAddr(%q) = %q, %v; want %q", tc.log, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", `msg="sensor attached" addr=1.2.3.4:5`, `msg="serving metrics"`, `msg="serving metrics" addr="x`} {
		if _, err := MetricsAddr([]byte(bad)); err == nil {
			t.Errorf("MetricsAddr(%q) succeeded", bad)
		}
	}
}
