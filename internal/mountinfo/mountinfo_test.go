package mountinfo

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	data := `22 1 0:21 / /proc rw,nosuid - proc proc rw
30 25 0:26 / /sys/fs/cgroup/uni\040fied rw,nosuid shared:9 - cgroup2 cgroup2 rw
31 25 0:27 /sub /sys/fs/cgroup/x rw - cgroup2 cgroup2 rw
bad line
40 1 0:30 / /a\134b\777 rw - tmpfs tmpfs rw
`
	got := Parse(data)
	want := []Mount{
		{Root: "/", Point: "/proc", FSType: "proc"},
		{Root: "/", Point: "/sys/fs/cgroup/uni fied", FSType: "cgroup2"},
		{Root: "/sub", Point: "/sys/fs/cgroup/x", FSType: "cgroup2"},
		{Root: "/", Point: `/a\b\777`, FSType: "tmpfs"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", got, want)
	}
	if m, ok := Cgroup2(got); !ok || m.Point != "/sys/fs/cgroup/uni fied" {
		t.Errorf("Cgroup2 = %+v, %v", m, ok)
	}
	if _, ok := Cgroup2(got[:1]); ok {
		t.Errorf("Cgroup2 found a mount where there is none")
	}
}

func TestReadThisMachine(t *testing.T) {
	mounts, err := Read("/proc")
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) == 0 || mounts[0].Point == "" {
		t.Fatalf("no mounts read: %+v", mounts)
	}
}

func TestCgroup2Layouts(t *testing.T) {
	tests := []struct {
		name, mountinfo, mount, root string
		ok                           bool
	}{
		{"unified", "" +
			"24 30 0:22 / /sys rw,nosuid - sysfs sysfs rw\n" +
			"28 24 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw,nsdelegate\n",
			"/sys/fs/cgroup", "/", true},
		{"hybrid", "" +
			"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
			"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" +
			"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
			"/sys/fs/cgroup/unified", "/", true},
		{"sub-tree mount with optional fields and escapes", "" +
			"50 40 0:30 /kubepods.slice /host\\040cgroup rw shared:5 master:1 - cgroup2 cgroup2 rw\n",
			"/host cgroup", "/kubepods.slice", true},
		{"v1 only", "" +
			"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n", "", "", false},
	}
	for _, tt := range tests {
		m, ok := Cgroup2(Parse(tt.mountinfo))
		if m.Point != tt.mount || m.Root != tt.root || ok != tt.ok {
			t.Errorf("%s: Cgroup2 = %q, %q, %v; want %q, %q, %v", tt.name, m.Point, m.Root, ok, tt.mount, tt.root, tt.ok)
		}
	}
}
