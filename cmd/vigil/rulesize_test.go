package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateHugeRulesFile: a rules file far over the limit (here a sparse
// 1 GiB one) is refused at once, naming the file, without being read whole.
func TestValidateHugeRulesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var out, errb bytes.Buffer
	if code := run([]string{"validate", path}, &out, &errb); code != exitUsage {
		t.Fatalf("validate exited %d, want %d: %s %s", code, exitUsage, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), path+":1:1: the file is larger than") {
		t.Errorf("output does not name the file and the limit:\n%s", out.String())
	}
}
