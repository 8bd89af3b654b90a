package ia32

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// progBase is where the program's one segment is mapped: the address i386
// linkers use by default.
const progBase = 0x08048000

// OpenProgram returns a static 32-bit x86 ELF executable (an "-m32"
// program, as small as one can be) that opens path read-only with
// open(2) through int $0x80 and exits with the call's result as its
// status: the descriptor, or 256 minus the errno. Run on x86-64, the
// kernel loads it as an ia32 process (CONFIG_IA32_EMULATION); a kernel
// without ia32 emulation refuses to exec it (ENOEXEC).
func OpenProgram(path string) []byte {
	hdrSize := binary.Size(elf.Header32{}) + binary.Size(elf.Prog32{})
	code := []byte{
		0xb8, SysOpen, 0, 0, 0, // mov $SysOpen, %eax
		0xbb, 0, 0, 0, 0, // mov $path, %ebx (filled in below)
		0x31, 0xc9, // xor %ecx, %ecx: O_RDONLY
		0x31, 0xd2, // xor %edx, %edx: mode 0
		0xcd, 0x80, // int $0x80
		0x89, 0xc3, // mov %eax, %ebx: the result is the status
		0xb8, sysExit, 0, 0, 0, // mov $sysExit, %eax
		0xcd, 0x80, // int $0x80
	}
	binary.LittleEndian.PutUint32(code[6:], uint32(progBase+hdrSize+len(code)))
	code = append(code, path...)
	code = append(code, 0)
	size := uint32(hdrSize + len(code))

	h := elf.Header32{
		Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_386), Version: uint32(elf.EV_CURRENT),
		Entry: progBase + uint32(hdrSize), Phoff: uint32(binary.Size(elf.Header32{})),
		Ehsize: uint16(binary.Size(elf.Header32{})), Phentsize: uint16(binary.Size(elf.Prog32{})), Phnum: 1,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS32)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	p := elf.Prog32{
		Type: uint32(elf.PT_LOAD), Vaddr: progBase, Paddr: progBase,
		Filesz: size, Memsz: size, Flags: uint32(elf.PF_R | elf.PF_X), Align: 0x1000,
	}
	var b bytes.Buffer
	// Writes to a bytes.Buffer of fixed-size values do not fail.
	_ = binary.Write(&b, binary.LittleEndian, &h)
	_ = binary.Write(&b, binary.LittleEndian, &p)
	b.Write(code)
	return b.Bytes()
}
