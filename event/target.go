package event

import (
	"path"
	"strings"
)

// interpreter says how a shell, script interpreter or dynamic loader names
// the file it runs on its command line: the first argument that is not an
// option. Options are single-dash clusters ("-xe") or long ("--rcfile"):
// text names the letters whose option is the program text itself (sh -c,
// perl -e), so such a command line runs no file; value names the letters
// that take a value (attached, or the next argument); long lists the long
// options that take the next argument.
type interpreter struct {
	text, value string
	textLong    []string
	long        []string
}

var (
	shellInterp = interpreter{text: "cs", value: "oO", long: []string{"--rcfile", "--init-file"}}
	// The loader (ld.so) takes only long options.
	loaderInterp = interpreter{long: []string{"--library-path", "--preload", "--audit", "--argv0",
		"--inhibit-rpath", "--glibc-hwcaps-prepend", "--glibc-hwcaps-mask"}}
)

// interpreters are the programs whose target ExecTarget reads, by the base
// name of their resolved executable without a version suffix
// (python3.11 -> python).
var interpreters = map[string]interpreter{
	"sh": shellInterp, "bash": shellInterp, "dash": shellInterp, "ash": shellInterp, "ksh": shellInterp,
	"ksh93": shellInterp, "mksh": shellInterp, "zsh": shellInterp, "csh": shellInterp, "tcsh": shellInterp,
	"fish": shellInterp, "yash": shellInterp, "posh": shellInterp,
	"python": {text: "cm", value: "WX"},
	"perl":   {text: "eE"},
	"ruby":   {text: "e", value: "IrC"},
	"node":   {text: "ep", value: "r", textLong: []string{"--eval", "--print"}, long: []string{"--require"}},
	"nodejs": {text: "ep", value: "r", textLong: []string{"--eval", "--print"}, long: []string{"--require"}},
	"php":    {text: "r", value: "cd"},
	"lua":    {text: "e", value: "l"},
	"luajit": {text: "e", value: "l"},
	"tclsh":  {},
	"wish":   {},
}

// busyboxShells are busybox's shell applets.
var busyboxShells = []string{"sh", "ash", "hush", "bash"}

// interpreterOf finds the interpreter whose executable has base name base;
// argv0 is what busybox picks its applet by.
func interpreterOf(base, argv0 string) (interpreter, bool) {
	if strings.HasPrefix(base, "ld-linux") || strings.HasPrefix(base, "ld-musl") || base == "ld.so" {
		return loaderInterp, true
	}
	if base == "busybox" {
		// The applet is argv[0]'s base name ("busybox sh ...": the
		// caller passes argv[1]).
		if applet := path.Base(argv0); applet != "busybox" {
			for _, s := range busyboxShells {
				if applet == s {
					return shellInterp, true
				}
			}
		}
		return interpreter{}, false
	}
	in, ok := interpreters[strings.TrimRight(base, "0123456789.")]
	return in, ok
}

// maybeInterpreter reports whether an executable of base name base can
// have a target, without looking at its arguments.
func maybeInterpreter(base string) bool {
	if base == "busybox" {
		return true
	}
	_, ok := interpreterOf(base, "")
	return ok
}

// ExecTarget is proc.target: the file the caller asked to run when the
// executable is an interpreter or loader running it.
//
//   - interp (the kernel ran an interpreter for the file named, a "#!"
//     script or a binfmt_misc format): the filename passed to exec;
//   - else, when the executable (by the base name of exepath) is a known
//     shell, script interpreter or dynamic loader: the first argument after
//     argv[0] that is neither an option nor an option's value, and none
//     when an option that carries the program text (sh -c, python -c/-m,
//     perl -e, ...) or "-" (standard input) comes first. Through busybox,
//     the shell applets only.
//   - else there is none ("").
//
// A relative name is made absolute against cwd; the result is cleaned
// ("..", "." and repeated slashes folded, symlinks not followed). args is
// argv NUL-separated as the kernel holds it. An executable that is no
// interpreter costs no allocation.
func ExecTarget(exepath string, filename, args []byte, cwd string, interp bool) string {
	if interp {
		return absolute(string(filename), cwd)
	}
	base := path.Base(exepath)
	if !maybeInterpreter(base) {
		return ""
	}
	argv0, rest, _ := strings.Cut(string(args), "\x00")
	if base == "busybox" && path.Base(argv0) == "busybox" {
		argv0, rest, _ = strings.Cut(rest, "\x00")
	}
	in, ok := interpreterOf(base, argv0)
	if !ok {
		return ""
	}
	skip := false
	for rest != "" {
		var a string
		a, rest, _ = strings.Cut(rest, "\x00")
		switch {
		case skip:
			skip = false
		case a == "--":
			a, _, _ = strings.Cut(rest, "\x00")
			return absolute(a, cwd)
		case a == "-":
			return ""
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a, "=")
			for _, l := range in.textLong {
				if name == l {
					return ""
				}
			}
			for _, l := range in.long {
				if name == l && !hasValue {
					skip = true
				}
			}
		case len(a) > 1 && (a[0] == '-' || a[0] == '+'):
			for i := 1; i < len(a); i++ {
				if strings.IndexByte(in.text, a[i]) >= 0 {
					return ""
				}
				if strings.IndexByte(in.value, a[i]) >= 0 {
					skip = i == len(a)-1
					break
				}
			}
		default:
			return absolute(a, cwd)
		}
	}
	return ""
}

// absolute makes name absolute against cwd and cleans it; "" stays "".
func absolute(name, cwd string) string {
	if name == "" {
		return ""
	}
	if !strings.HasPrefix(name, "/") {
		if cwd == "" {
			return path.Clean(name)
		}
		name = cwd + "/" + name
	}
	return path.Clean(name)
}
