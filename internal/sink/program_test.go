package sink

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/sink/sinktest"
	"github.com/vigil-sensor/vigil/rules"
)

// helperArg makes the test binary a program sink: it appends the lines it
// reads to a file and exits after a number of them.
const helperArg = "sink-program-helper"

func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == helperArg {
		os.Exit(programHelper(os.Args[2], os.Args[3]))
	}
	os.Exit(m.Run())
}

// programHelper reads stdin a byte at a time, so that it takes no line
// beyond the last it writes, and exits with status 3 after n lines.
func programHelper(path, count string) int {
	n, _ := strconv.Atoi(count)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 1
	}
	var line []byte
	b := make([]byte, 1)
	for n > 0 {
		if _, err := os.Stdin.Read(b); err != nil {
			return 0
		}
		line = append(line, b[0])
		if b[0] == '\n' {
			f.Write(line)
			line = line[:0]
			n--
		}
	}
	return 3
}

// A program that exits mid-stream is started again, and lines flow to the
// new one.
func TestProgramRestarts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "got.json")
	s := newSet(t, nil, fmt.Sprintf("  - type: program\n    command: [%s, %s, %s, \"3\"]\n    backoff: 10ms\n", os.Args[0], helperArg, out))
	for i := range 3 {
		s.Alert(testAlert(i, rules.PriorityWarning), rules.PriorityWarning)
	}
	sinktest.WaitFor(t, 5*time.Second, "3 lines from the first run", func() bool { return fileLines(out) == 3 })
	// The first run has exited: what is written until the restart is lost
	// (failed, or taken by the pipe of the dead program); then the second
	// run takes three more.
	n := 3
	sinktest.WaitFor(t, 10*time.Second, "lines from the second run", func() bool {
		s.Alert(testAlert(n, rules.PriorityWarning), rules.PriorityWarning)
		n++
		time.Sleep(2 * time.Millisecond)
		return fileLines(out) >= 6
	})
	if st := s.Sinks()[0]; st.Restarts == 0 {
		t.Errorf("stats %+v, want a restart counted", st)
	}
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, out)), "\n") {
		sinktest.DecodeFalco(t, []byte(line))
	}
}

func fileLines(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "\n")
}

func TestProgramNotFound(t *testing.T) {
	_, err := New(parseOutputs(t, "  - type: program\n    command: [/nonexistent/forwarder]\n"), testDeps(t, nil))
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/forwarder") {
		t.Errorf("error %v", err)
	}
}
