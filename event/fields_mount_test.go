package event

import "testing"

func TestMountFields(t *testing.T) {
	c := &Container{Known: true, Mounts: []Mount{
		{Source: "proc", Dest: "/proc", RW: true},
		{Source: "/var/run/docker.sock", Dest: "/var/run/docker.sock", RW: true, Propagation: "rprivate"},
		{Source: "/etc", Dest: "/host/etc"},
	}}
	e := &Event{Type: TypeExecve, Container: c}
	for _, tt := range []struct {
		field, arg, want string
		ok               bool
	}{
		{"container.mount.dest", "/var/run/docker.sock", "/var/run/docker.sock", true},
		{"container.mount.dest", "/et*", "/host/etc", true},
		{"container.mount.dest", "/proc*", noMount, true}, // "proc" is no host path
		{"container.mount.source", "/host/*", "/etc", true},
		{"container.mount.source", "1", "/var/run/docker.sock", true},
		{"container.mount.rdwr", "/etc", "false", true},
		{"container.mount.propagation", "/var/run/docker.sock", "rprivate", true},
		{"container.mount", "0", "proc:/proc::true:", true},
		{"container.mount", "9", noMount, true},
		{"container.mounts", "", "proc:/proc::true: /var/run/docker.sock:/var/run/docker.sock::true:rprivate /etc:/host/etc::false:", true},
	} {
		f, _ := LookupField(tt.field)
		got, ok := f.Str(e, Arg{Set: tt.arg != "", Key: tt.arg})
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s[%s] = %q, %v; want %q, %v", tt.field, tt.arg, got, ok, tt.want, tt.ok)
		}
	}
	f, _ := LookupField("container.mount.dest")
	if _, ok := f.Str(&Event{Type: TypeExecve}, Arg{Set: true, Key: "/proc"}); ok {
		t.Error("a host event has a container mount")
	}
}
