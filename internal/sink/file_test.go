package sink

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/sink/sinktest"
	"github.com/vigil-sensor/vigil/rules"
)

func lineCount(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// logrotate renames the file and sends SIGHUP: the lines before go to the
// renamed file, those after to a new file at the path.
func TestFileReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.json")
	s := newSet(t, nil, "  - type: file\n    path: "+path+"\n")
	for i := range 3 {
		s.Alert(testAlert(i, rules.PriorityWarning), rules.PriorityWarning)
	}
	sinktest.WaitFor(t, 5*time.Second, "3 lines in the file", func() bool { return lineCount(t, path) == 3 })
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	for i := 3; i < 5; i++ {
		s.Alert(testAlert(i, rules.PriorityWarning), rules.PriorityWarning)
	}
	sinktest.WaitFor(t, 5*time.Second, "2 lines in the new file", func() bool { return lineCount(t, path) == 2 })
	if n := lineCount(t, rotated); n != 3 {
		t.Errorf("rotated file has %d lines, want 3", n)
	}
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, path)), "\n") {
		sinktest.DecodeFalco(t, []byte(line))
	}
	sinktest.WaitFor(t, 5*time.Second, "5 records counted", func() bool { return s.Sinks()[0].Written == 5 })
	if st := s.Sinks()[0]; st.Restarts != 1 {
		t.Errorf("stats %+v, want one reopening", st)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("alerts file mode %v, want 0600", fi.Mode().Perm())
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFileCannotOpen(t *testing.T) {
	_, err := New(parseOutputs(t, "  - type: file\n    path: /nonexistent-dir/x.json\n"), testDeps(t, nil))
	if err == nil || !strings.Contains(err.Error(), "starting output file (file /nonexistent-dir/x.json)") {
		t.Errorf("error %v", err)
	}
}
