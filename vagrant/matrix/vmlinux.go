package main

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Booting the uncompressed vmlinux through its PVH entry point skips the
// kernel's self-decompression, which under TCG is the slowest part of boot
// (measured here: 6.1, whose image is xz-compressed, reached init in 7.4 s
// instead of 18.7 s).

// xenNotePhys32Entry is XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry point that
// qemu's -kernel needs to boot an ELF vmlinux (CONFIG_PVH).
const xenNotePhys32Entry = 18

// bootImage returns the image to hand qemu: the cached PVH-bootable vmlinux,
// extracted on first use, or vmlinuz when extraction is not possible.
func (k kernel) bootImage(ctx context.Context) (string, error) {
	vmlinux := filepath.Join(k.root, "vmlinux")
	if _, err := os.Stat(vmlinux); err == nil {
		return vmlinux, nil
	}
	err := extractVmlinux(ctx, k.vmlinuz(), vmlinux)
	if errors.Is(err, errNoPVH) {
		return k.vmlinuz(), nil
	}
	if err != nil {
		return "", fmt.Errorf("extracting vmlinux of %s: %w", k.release, err)
	}
	return vmlinux, nil
}

// errNoPVH means the image cannot be booted as an ELF: another compression
// than the host can undo, or a kernel without CONFIG_PVH.
var errNoPVH = errors.New("kernel image is not PVH-bootable")

// extractVmlinux decompresses the payload of the bzImage at src into dst,
// which it writes only if the result is an ELF with a PVH entry point.
func extractVmlinux(ctx context.Context, src, dst string) error {
	bz, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("reading kernel image: %w", err)
	}
	payload, size, err := bzImagePayload(bz)
	if err != nil {
		return err
	}
	var tool string
	switch {
	case bytes.HasPrefix(payload, []byte("\xfd7zXZ\x00")):
		tool = "xz"
	case bytes.HasPrefix(payload, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		tool = "zstd"
	case bytes.HasPrefix(payload, []byte{0x1f, 0x8b}):
		tool = "gzip"
	default:
		return fmt.Errorf("%w: payload compression %x not handled", errNoPVH, payload[:min(len(payload), 4)])
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tool, "-dc")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(payload), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("decompressing the kernel with %s: %w: %s", tool, err, strings.TrimSpace(stderr.String()))
	}
	if uint32(stdout.Len()) != size {
		return fmt.Errorf("decompressing the kernel with %s: got %d bytes, the image says %d", tool, stdout.Len(), size)
	}
	if err := hasPVHEntry(stdout.Bytes()); err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, stdout.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing vmlinux: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("writing vmlinux: %w", err)
	}
	return nil
}

// bzImagePayload returns the compressed kernel inside an x86 bzImage and
// its uncompressed size, located through the boot protocol's setup header
// (Documentation/arch/x86/boot.rst): setup_sects at 0x1f1, payload_offset
// and payload_length at 0x248, relative to the protected-mode code that
// follows the setup sectors. The payload's last 4 bytes hold its
// uncompressed size (little endian), as the kernel build appends it.
func bzImagePayload(bz []byte) ([]byte, uint32, error) {
	if len(bz) < 0x250 || string(bz[0x202:0x206]) != "HdrS" {
		return nil, 0, fmt.Errorf("%w: no x86 boot header", errNoPVH)
	}
	setupSects := int(bz[0x1f1])
	if setupSects == 0 {
		setupSects = 4
	}
	off := uint64((setupSects+1)*512) + uint64(binary.LittleEndian.Uint32(bz[0x248:]))
	length := uint64(binary.LittleEndian.Uint32(bz[0x24c:]))
	if length < 4 || off+length > uint64(len(bz)) {
		return nil, 0, fmt.Errorf("%w: payload %d+%d outside the %d-byte image", errNoPVH, off, length, len(bz))
	}
	payload := bz[off : off+length]
	return payload[:length-4], binary.LittleEndian.Uint32(payload[length-4:]), nil
}

// hasPVHEntry checks that vmlinux is an ELF carrying a Xen PVH entry note.
func hasPVHEntry(vmlinux []byte) error {
	f, err := elf.NewFile(bytes.NewReader(vmlinux))
	if err != nil {
		return fmt.Errorf("%w: %v", errNoPVH, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		notes := make([]byte, p.Filesz)
		if _, err := p.ReadAt(notes, 0); err != nil {
			return fmt.Errorf("reading ELF notes: %w", err)
		}
		for len(notes) >= 12 {
			namesz := binary.LittleEndian.Uint32(notes[0:])
			descsz := binary.LittleEndian.Uint32(notes[4:])
			typ := binary.LittleEndian.Uint32(notes[8:])
			nameEnd := 12 + align4(namesz)
			end := nameEnd + align4(descsz)
			if end > uint64(len(notes)) {
				break
			}
			if typ == xenNotePhys32Entry && string(bytes.TrimRight(notes[12:12+uint64(namesz)], "\x00")) == "Xen" {
				return nil
			}
			notes = notes[end:]
		}
	}
	return fmt.Errorf("%w: no PVH entry note (CONFIG_PVH is off)", errNoPVH)
}

func align4(n uint32) uint64 { return (uint64(n) + 3) &^ 3 }
