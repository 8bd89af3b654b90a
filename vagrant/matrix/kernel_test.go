package main

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

func TestParseAptShow(t *testing.T) {
	meta := `Package: linux-image-6.12-amd64
Source: linux-signed-6.12-amd64 (6.12.117+1~deb12u1)
Version: 6.12.117-1~deb12u1
Provides: linux-latest-modules-6.12.117+deb12-amd64, wireguard-modules (= 1.0.0)
Depends: linux-image-6.12.117+deb12-amd64 (= 6.12.117-1~deb12u1)
Description: Linux for 64-bit PCs (meta-package)

Package: linux-image-6.12-amd64
Version: 6.12.100-1~deb12u1
`
	image := `Package: linux-image-6.1.0-56-amd64
Version: 6.1.192-2
Depends: kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool
`
	for _, tc := range []struct {
		name string
		in   string
		want aptPackage
	}{
		{"meta", meta, aptPackage{"linux-image-6.12-amd64", "6.12.117-1~deb12u1", []string{"linux-image-6.12.117+deb12-amd64"}}},
		{"image", image, aptPackage{"linux-image-6.1.0-56-amd64", "6.1.192-2", []string{"kmod", "linux-base", "initramfs-tools", "linux-initramfs-tool"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAptShow([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if got.name != tc.want.name || got.version != tc.want.version || !slices.Equal(got.depends, tc.want.depends) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if _, err := parseAptShow([]byte("Description: no package\n")); err == nil {
		t.Error("parsing a stanza without Package: got no error")
	}
}

func TestModuleName(t *testing.T) {
	for _, tc := range []struct {
		file, want string
		ok         bool
	}{
		{"veth.ko", "veth", true},
		{"veth.ko.xz", "veth", true},
		{"nf-conntrack.ko.zst", "nf_conntrack", true},
		{"modules.order", "", false},
		{"veth.ko.bak", "", false},
	} {
		got, ok := moduleName(tc.file)
		if got != tc.want || ok != tc.ok {
			t.Errorf("moduleName(%q) = %q, %v; want %q, %v", tc.file, got, ok, tc.want, tc.ok)
		}
	}
}

// TestKernelModules builds a fake module tree: a depends on b (xz
// compressed) and on c (built in); b depends on d-e (named with a dash).
func TestKernelModules(t *testing.T) {
	xz := testutil.RequireCommand(t, "xz")
	k := kernel{release: "6.0.0-test", root: t.TempDir()}
	drivers := filepath.Join(k.modulesDir(), "kernel", "drivers")
	if err := os.MkdirAll(drivers, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(drivers, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.ko", fakeModule(t, "license=GPL\x00depends=b,c\x00"))
	write("b.ko", fakeModule(t, "depends=d-e\x00vermagic=6.0.0\x00"))
	write("d_e.ko", fakeModule(t, "depends=\x00"))
	write("orphan.ko", fakeModule(t, "depends=missing\x00"))
	if out, err := exec.Command(xz, filepath.Join(drivers, "b.ko")).CombinedOutput(); err != nil {
		t.Fatalf("compressing b.ko: %v\n%s", err, out)
	}
	builtin := "kernel/drivers/c.ko\nkernel/net/other.ko\n"
	if err := os.WriteFile(filepath.Join(k.modulesDir(), "modules.builtin"), []byte(builtin), 0o644); err != nil {
		t.Fatal(err)
	}

	mods, err := k.modules(context.Background(), []string{"a", "d_e"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.name)
		if _, err := elf.NewFile(bytes.NewReader(m.data)); err != nil {
			t.Errorf("module %s is not a decompressed ELF: %v", m.name, err)
		}
	}
	if want := []string{"d_e", "b", "a"}; !slices.Equal(names, want) {
		t.Errorf("load order %v, want %v", names, want)
	}

	for _, name := range []string{"orphan", "nosuch"} {
		if _, err := k.modules(context.Background(), []string{name}); err == nil || !strings.Contains(err.Error(), "neither built into") {
			t.Errorf("modules(%s): got error %v, want a missing-module error", name, err)
		}
	}
}

// fakeModule returns a minimal relocatable ELF whose only content is a
// .modinfo section, which is all the runner reads from a module.
func fakeModule(t *testing.T, modinfo string) []byte {
	t.Helper()
	const shstrtab = "\x00.modinfo\x00.shstrtab\x00"
	infoOff := uint64(64)
	strOff := infoOff + uint64(len(modinfo))
	shOff := (strOff + uint64(len(shstrtab)) + 7) &^ 7
	var buf bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: shOff, Ehsize: 64, Shentsize: 64, Shnum: 3, Shstrndx: 2,
	}
	copy(hdr.Ident[:], []byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)})
	sections := []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Off: infoOff, Size: uint64(len(modinfo)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(len(shstrtab)), Addralign: 1},
	}
	if err := binary.Write(&buf, binary.LittleEndian, hdr); err != nil {
		t.Fatal(err)
	}
	buf.WriteString(modinfo)
	buf.WriteString(shstrtab)
	buf.Write(make([]byte, int(shOff)-buf.Len()))
	if err := binary.Write(&buf, binary.LittleEndian, sections); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
