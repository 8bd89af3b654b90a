package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/rules"
)

const filterReportRules = `
- rule: any unlink by rm
  desc: d
  condition: evt.type = unlinkat and proc.name = rm
  output: o
  priority: INFO
- rule: etc opens
  desc: d
  condition: evt.type = openat and fd.name startswith /etc/
  output: o
  priority: INFO
- rule: ssh connects
  desc: d
  condition: evt.type = connect and fd.sport = 22
  output: o
  priority: INFO
- rule: any read by cat
  desc: d
  condition: evt.type = openat and evt.is_open_read = true and proc.name = cat
  output: o
  priority: INFO
- rule: setuid chmod
  desc: d
  condition: evt.type = chmod and evt.arg.mode contains S_ISUID
  output: o
  priority: INFO
`

func TestKernelFilterReport(t *testing.T) {
	rs, _, err := rules.Load([]rules.Source{{Name: "r.yaml", Data: []byte(filterReportRules)}}, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]kindFilterReport{}
	for _, r := range kernelFilterReport(rs) {
		got[r.Kind] = r
	}
	none := []unboundedRule{}
	want := map[string]kindFilterReport{
		"exec": {Kind: "exec", Kernel: kernelWhole, ProcessTable: true, Unbounded: none, AnyPath: none},
		"fork": {Kind: "fork", Kernel: kernelWhole, ProcessTable: true, Unbounded: none, AnyPath: none},
		"exit": {Kind: "exit", Kernel: kernelWhole, ProcessTable: true, Unbounded: none, AnyPath: none},
		"cred": {Kind: "cred", Kernel: kernelWhole, ProcessTable: true, Unbounded: none, AnyPath: none},
		"open": {Kind: "open", Kernel: kernelFiltered, Rules: 2, Unbounded: none,
			AnyPath: []unboundedRule{{"any read by cat", []string{"openat"}}}},
		"connect": {Kind: "connect", Kernel: kernelWhole, Rules: 1, Unbounded: []unboundedRule{{"ssh connects", []string{"connect"}}}, AnyPath: none},
		"fs": {Kind: "fs", Kernel: kernelFiltered, Rules: 2,
			Unbounded: []unboundedRule{{"any unlink by rm", []string{"unlinkat"}}}, AnyPath: none},
		"socket":   {Kind: "socket", Kernel: kernelOff, Unbounded: none, AnyPath: none},
		"dup":      {Kind: "dup", Kernel: kernelOff, Unbounded: none, AnyPath: none},
		"priv":     {Kind: "priv", Kernel: kernelOff, Unbounded: none, AnyPath: none},
		"iouring":  {Kind: "iouring", Kernel: kernelOff, Unbounded: none, AnyPath: none},
		"sendrecv": {Kind: "sendrecv", Kernel: kernelOff, Unbounded: none, AnyPath: none},
	}
	for kind, w := range want {
		if g, ok := got[kind]; !ok || !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n got %+v\nwant %+v", kind, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("report of %d kinds, want %d: %+v", len(got), len(want), got)
	}
}

func TestValidateFilterReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.yaml")
	if err := os.WriteFile(path, []byte(filterReportRules), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"validate", path}, &out, &errb); code != exitOK {
		t.Fatalf("validate exited %d: %s %s", code, out.String(), errb.String())
	}
	for _, want := range []string{
		"kernel filter: per event kind",
		"  fs: filtered in the kernel; 2 rules; 1 leave it unbounded:\n    \"any unlink by rm\" (unlinkat)\n",
		"  open: filtered in the kernel; 2 rules; every rule bounds it\n  open, any path (bounded only by access mode, class or result): 1 rules:\n    \"any read by cat\" (openat)\n",
		"  connect: not filtered in the kernel; 1 rule\n",
		"  exec: not filtered in the kernel (the process table needs every one); 0 rules\n",
		"  dup: off (no rule applies: the kernel emits none)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("validate output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	if code := run([]string{"validate", "--json", path}, &out, &errb); code != exitOK {
		t.Fatalf("validate --json exited %d: %s %s", code, out.String(), errb.String())
	}
	var res struct {
		Files        []json.RawMessage  `json:"falco_load_results"`
		KernelFilter []kindFilterReport `json:"kernel_filter"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || len(res.KernelFilter) == 0 {
		t.Fatalf("validate --json: %s", out.String())
	}
	for _, r := range res.KernelFilter {
		if r.Kind == "fs" && (r.Kernel != kernelFiltered || len(r.Unbounded) != 1 || r.Unbounded[0].Rule != "any unlink by rm") {
			t.Errorf("fs in JSON: %+v", r)
		}
	}

	// A file that does not load has no filter to report.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("- rule: broken\n  desc: d\n  condition: proc.name = (\n  output: o\n  priority: INFO\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	run([]string{"validate", "--json", bad}, &out, &errb)
	if strings.Contains(out.String(), "kernel_filter") {
		t.Errorf("validate --json of a broken file reports a kernel filter:\n%s", out.String())
	}
}
