package main

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// cpioWriter writes a cpio archive in the "newc" format, the only one the
// kernel unpacks as an initramfs. Entries are written in call order, so a
// directory must come before what it holds.
type cpioWriter struct {
	w    *bufio.Writer
	ino  uint32
	size int64
}

// newCPIOWriter returns a writer that appends the archive to w.
func newCPIOWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: bufio.NewWriterSize(w, 1<<20)}
}

// Mode bits of newc headers (they are those of stat(2), not of io/fs).
const (
	cpioDir     = 0o040000
	cpioFile    = 0o100000
	cpioSymlink = 0o120000
	cpioCharDev = 0o020000
)

// cpioEntry is one header of the archive.
type cpioEntry struct {
	name         string
	mode         uint32 // type bits | permission bits
	size         int64
	nlink        uint32
	rmajor, rmin uint32
}

// Dir adds a directory.
func (c *cpioWriter) Dir(name string, perm fs.FileMode) error {
	return c.write(cpioEntry{name: name, mode: cpioDir | uint32(perm.Perm()), nlink: 2}, nil)
}

// File adds a regular file of size bytes read from r.
func (c *cpioWriter) File(name string, perm fs.FileMode, size int64, r io.Reader) error {
	return c.write(cpioEntry{name: name, mode: cpioFile | uint32(perm.Perm()), size: size, nlink: 1}, r)
}

// Symlink adds a symbolic link to target.
func (c *cpioWriter) Symlink(name, target string) error {
	e := cpioEntry{name: name, mode: cpioSymlink | 0o777, size: int64(len(target)), nlink: 1}
	return c.write(e, strings.NewReader(target))
}

// CharDev adds a character device node.
func (c *cpioWriter) CharDev(name string, perm fs.FileMode, major, minor uint32) error {
	e := cpioEntry{name: name, mode: cpioCharDev | uint32(perm.Perm()), nlink: 1, rmajor: major, rmin: minor}
	return c.write(e, nil)
}

// Close writes the trailer entry and flushes; it does not close the
// underlying writer.
func (c *cpioWriter) Close() error {
	if err := c.write(cpioEntry{name: "TRAILER!!!", nlink: 1}, nil); err != nil {
		return err
	}
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("flushing archive: %w", err)
	}
	return nil
}

func (c *cpioWriter) write(e cpioEntry, r io.Reader) error {
	if e.name == "" || strings.HasPrefix(e.name, "/") {
		return fmt.Errorf("adding %q: archive names are relative and not empty", e.name)
	}
	if e.size < 0 || e.size > 1<<32-1 {
		return fmt.Errorf("adding %q: size %d does not fit a newc header", e.name, e.size)
	}
	c.ino++
	// Fields: magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize (with its NUL), check.
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, e.mode, 0, 0, e.nlink, 0, e.size, 0, 0, e.rmajor, e.rmin, len(e.name)+1, 0)
	if err := c.put([]byte(hdr + e.name + "\x00")); err != nil {
		return fmt.Errorf("adding %q: %w", e.name, err)
	}
	if err := c.pad(); err != nil {
		return fmt.Errorf("adding %q: %w", e.name, err)
	}
	if e.size > 0 {
		n, err := io.Copy(c.w, io.LimitReader(r, e.size))
		c.size += n
		if err != nil {
			return fmt.Errorf("adding %q: copying data: %w", e.name, err)
		}
		if n != e.size {
			return fmt.Errorf("adding %q: got %d bytes, want %d", e.name, n, e.size)
		}
		if err := c.pad(); err != nil {
			return fmt.Errorf("adding %q: %w", e.name, err)
		}
	}
	return nil
}

func (c *cpioWriter) put(b []byte) error {
	n, err := c.w.Write(b)
	c.size += int64(n)
	if err != nil {
		return fmt.Errorf("writing archive: %w", err)
	}
	return nil
}

// pad aligns the archive to 4 bytes, as newc requires after every name and
// every file body.
func (c *cpioWriter) pad() error {
	if rem := c.size % 4; rem != 0 {
		return c.put(make([]byte, 4-rem))
	}
	return nil
}
