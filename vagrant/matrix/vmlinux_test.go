package main

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

func TestExtractVmlinux(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tool    string
		pvh     bool
		wantErr error // nil: vmlinux is written
	}{
		{"xz with PVH", "xz", true, nil},
		{"zstd with PVH", "zstd", true, nil},
		{"gzip without PVH", "gzip", false, errNoPVH},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tool := testutil.RequireCommand(t, tc.tool)
			vmlinux := fakeVmlinux(t, tc.pvh)
			c := exec.Command(tool, "-c")
			c.Stdin = bytes.NewReader(vmlinux)
			compressed, err := c.Output()
			if err != nil {
				t.Fatalf("compressing with %s: %v", tc.tool, err)
			}
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "vmlinux")
			if err := os.WriteFile(src, fakeBzImage(compressed, uint32(len(vmlinux))), 0o644); err != nil {
				t.Fatal(err)
			}
			err = extractVmlinux(context.Background(), src, dst)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("extractVmlinux: got %v, want %v", err, tc.wantErr)
			}
			got, readErr := os.ReadFile(dst)
			if tc.wantErr != nil {
				if readErr == nil {
					t.Error("vmlinux written for an image that cannot boot through PVH")
				}
				return
			}
			if !bytes.Equal(got, vmlinux) {
				t.Errorf("vmlinux differs from the original (%d bytes, want %d)", len(got), len(vmlinux))
			}
		})
	}
}

func TestBootImageFallsBackToVmlinuz(t *testing.T) {
	k := kernel{release: "6.0.0-test", root: t.TempDir()}
	if err := os.MkdirAll(filepath.Dir(k.vmlinuz()), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.vmlinuz(), make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := k.bootImage(context.Background())
	if err != nil || got != k.vmlinuz() {
		t.Errorf("bootImage = %q, %v; want %q (no boot header: boot the image as it is)", got, err, k.vmlinuz())
	}
}

// fakeBzImage wraps payload like an x86 bzImage: one setup sector after the
// boot sector, the setup header's payload fields, the size trailer.
func fakeBzImage(payload []byte, size uint32) []byte {
	const setupSects = 1
	img := make([]byte, (setupSects+1)*512+100)
	img[0x1f1] = setupSects
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint32(img[0x248:], 100)
	binary.LittleEndian.PutUint32(img[0x24c:], uint32(len(payload)+4))
	img = append(img, payload...)
	return binary.LittleEndian.AppendUint32(img, size)
}

// fakeVmlinux returns an ELF executable with one PT_NOTE segment holding a
// Xen note: the PVH entry point when pvh, another Xen note otherwise.
func fakeVmlinux(t *testing.T, pvh bool) []byte {
	t.Helper()
	typ := uint32(xenNotePhys32Entry)
	if !pvh {
		typ = 6 // XEN_ELFNOTE_GUEST_OS
	}
	var note bytes.Buffer
	for _, v := range []uint32{4, 4, typ} {
		note.Write(binary.LittleEndian.AppendUint32(nil, v))
	}
	note.WriteString("Xen\x00")
	note.Write([]byte{0, 0, 0, 1})
	hdr := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: 1,
	}
	copy(hdr.Ident[:], []byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)})
	prog := elf.Prog64{Type: uint32(elf.PT_NOTE), Off: 64 + 56, Filesz: uint64(note.Len()), Memsz: uint64(note.Len()), Align: 4}
	var buf bytes.Buffer
	for _, v := range []any{hdr, prog} {
		if err := binary.Write(&buf, binary.LittleEndian, v); err != nil {
			t.Fatal(err)
		}
	}
	buf.Write(note.Bytes())
	return buf.Bytes()
}
