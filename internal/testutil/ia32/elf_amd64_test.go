package ia32

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"
)

// TestOpenProgram parses the program OpenProgram builds as the kernel's ELF
// loader would: a 32-bit x86 executable whose one loadable segment holds
// the entry point and the path.
func TestOpenProgram(t *testing.T) {
	const path = "/etc/shadow"
	b := OpenProgram(path)
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parsing the program: %v", err)
	}
	if f.Class != elf.ELFCLASS32 || f.Data != elf.ELFDATA2LSB || f.Machine != elf.EM_386 || f.Type != elf.ET_EXEC {
		t.Errorf("got class %v data %v machine %v type %v, want a little-endian i386 executable", f.Class, f.Data, f.Machine, f.Type)
	}
	if len(f.Progs) != 1 {
		t.Fatalf("got %d program headers, want 1", len(f.Progs))
	}
	p := f.Progs[0]
	if p.Type != elf.PT_LOAD || p.Off != 0 || p.Filesz != uint64(len(b)) || p.Memsz != p.Filesz || p.Flags != elf.PF_R|elf.PF_X {
		t.Errorf("segment %+v does not map the whole file read and execute", p.ProgHeader)
	}
	if f.Entry < p.Vaddr || f.Entry >= p.Vaddr+p.Filesz {
		t.Errorf("entry %#x outside the segment at %#x", f.Entry, p.Vaddr)
	}
	// The path the code loads into %ebx is in the segment, NUL-terminated.
	at := binary.LittleEndian.Uint32(b[f.Entry-p.Vaddr+6:]) - uint32(p.Vaddr)
	if got := string(b[at : len(b)-1]); got != path || b[len(b)-1] != 0 {
		t.Errorf("path in the program %q, want %q NUL-terminated", got, path)
	}
}
