package event

import (
	"strings"
	"testing"
)

func TestExecTarget(t *testing.T) {
	argv := func(a ...string) string { return strings.Join(a, "\x00") + "\x00" }
	tests := []struct {
		name, exepath, filename, args, cwd string
		interp                             bool
		want                               string
	}{
		{"shebang", "/usr/bin/dash", "/tmp/s.sh", argv("/bin/sh", "/tmp/s.sh"), "/root", true, "/tmp/s.sh"},
		{"shebang relative", "/usr/bin/bash", "./s.sh", argv("/bin/bash", "./s.sh"), "/tmp", true, "/tmp/s.sh"},
		{"shebang with option", "/usr/bin/bash", "/tmp/s.sh", argv("/bin/bash", "-x", "/tmp/s.sh"), "/", true, "/tmp/s.sh"},
		{"sh script", "/usr/bin/dash", "/bin/sh", argv("sh", "/tmp/s.sh"), "/root", false, "/tmp/s.sh"},
		{"bash relative", "/usr/bin/bash", "/bin/bash", argv("bash", "../tmp/./s.sh"), "/root", false, "/tmp/s.sh"},
		{"bash options", "/usr/bin/bash", "/bin/bash", argv("bash", "-x", "-o", "pipefail", "--rcfile", "/etc/r", "/tmp/s.sh"), "/", false, "/tmp/s.sh"},
		{"bash -c", "/usr/bin/bash", "/bin/bash", argv("bash", "-c", "/tmp/x"), "/", false, ""},
		{"bash -xc", "/usr/bin/bash", "/bin/bash", argv("bash", "-xc", "/tmp/x"), "/", false, ""},
		{"bash stdin", "/usr/bin/bash", "/bin/bash", argv("bash", "-s", "/tmp/x"), "/", false, ""},
		{"bash --", "/usr/bin/bash", "/bin/bash", argv("bash", "--", "-odd"), "/tmp", false, "/tmp/-odd"},
		{"interactive shell", "/usr/bin/bash", "/bin/bash", argv("-bash"), "/root", false, ""},
		{"loader", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2",
			argv("/lib64/ld-linux-x86-64.so.2", "--library-path", "/lib", "/tmp/x", "arg"), "/", false, "/tmp/x"},
		{"loader =", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2",
			argv("ld.so", "--argv0=ls", "/tmp/x"), "/", false, "/tmp/x"},
		{"python version", "/usr/bin/python3.11", "/usr/bin/python3", argv("python3", "-W", "ignore", "-u", "app.py"), "/srv", false, "/srv/app.py"},
		{"python -m", "/usr/bin/python3.11", "/usr/bin/python3", argv("python3", "-m", "http.server"), "/srv", false, ""},
		{"python -Wattached", "/usr/bin/python3.11", "/usr/bin/python3", argv("python3", "-Wignore", "/tmp/p.py"), "/", false, "/tmp/p.py"},
		{"perl -e", "/usr/bin/perl", "/usr/bin/perl", argv("perl", "-e", "print 1"), "/", false, ""},
		{"node --eval", "/usr/bin/node", "/usr/bin/node", argv("node", "--eval", "1"), "/", false, ""},
		{"node --require", "/usr/bin/node", "/usr/bin/node", argv("node", "--require", "m", "/tmp/a.js"), "/", false, "/tmp/a.js"},
		{"busybox sh applet", "/usr/bin/busybox", "/bin/sh", argv("sh", "/tmp/s.sh"), "/", false, "/tmp/s.sh"},
		{"busybox sh", "/usr/bin/busybox", "/usr/bin/busybox", argv("busybox", "sh", "/tmp/s.sh"), "/", false, "/tmp/s.sh"},
		{"busybox cat", "/usr/bin/busybox", "/usr/bin/busybox", argv("cat", "/tmp/s.sh"), "/", false, ""},
		{"not an interpreter", "/usr/bin/cat", "/usr/bin/cat", argv("cat", "/tmp/s.sh"), "/", false, ""},
		{"comm does not count", "/tmp/bash", "/tmp/bash", argv("bash", "/tmp/s.sh"), "/", false, "/tmp/s.sh"},
	}
	for _, tt := range tests {
		if got := ExecTarget(tt.exepath, []byte(tt.filename), []byte(tt.args), tt.cwd, tt.interp); got != tt.want {
			t.Errorf("%s: ExecTarget = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestExecTargetAllocs: an exec of a program that is no interpreter
// allocates nothing for proc.target.
func TestExecTargetAllocs(t *testing.T) {
	filename, args := []byte("/usr/bin/cat"), []byte("cat\x00/tmp/x\x00")
	if n := testing.AllocsPerRun(100, func() { ExecTarget("/usr/bin/cat", filename, args, "/root", false) }); n != 0 {
		t.Errorf("%v allocations per exec of cat", n)
	}
}
