package main

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
)

// guestReport is what a guest's test log says, for the summary line.
type guestReport struct {
	lsm           string     // active LSMs, from init's first line
	hooks         []pkgHooks // "hook active: NAME" by test package, in order
	lacks         []string   // "kernel lacks NAME: ...", not also active
	passed        int        // "--- PASS" lines, subtests included
	failed        int
	skipped       int
	failedTests   []string
	setupFailures []string // VIGIL-SETUP-FAILED lines
}

// pkgHooks are the hooks one test package reported active, once each.
type pkgHooks struct {
	pkg   string
	hooks []string
}

// active reports whether any package reported hook name active.
func (r guestReport) active(name string) bool {
	for _, p := range r.hooks {
		if slices.Contains(p.hooks, name) {
			return true
		}
	}
	return false
}

// parseGuestOutput reads the serial console of a guest. Tests report hooks
// by logging "hook active: NAME" (t.Logf) and missing ones through
// testutil.SkipKernelLacks ("kernel lacks NAME: why").
func parseGuestOutput(out []byte) guestReport {
	var r guestReport
	pkg := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, markerInit):
			for _, f := range strings.Fields(trimmed) {
				if v, ok := strings.CutPrefix(f, "lsm="); ok {
					r.lsm = v
				}
			}
		case strings.HasPrefix(trimmed, markerPkg+" "):
			pkg = strings.TrimSpace(strings.TrimPrefix(trimmed, markerPkg))
		case strings.HasPrefix(trimmed, markerSetup):
			r.setupFailures = append(r.setupFailures, trimmed)
		case strings.HasPrefix(trimmed, "--- PASS: "):
			r.passed++
		case strings.HasPrefix(trimmed, "--- SKIP: "):
			r.skipped++
		case strings.HasPrefix(trimmed, "--- FAIL: "):
			r.failed++
			if f := strings.Fields(strings.TrimPrefix(trimmed, "--- FAIL: ")); len(f) > 0 {
				r.failedTests = append(r.failedTests, f[0])
			}
		}
		if _, after, ok := strings.Cut(line, "hook active: "); ok {
			if f := strings.Fields(after); len(f) > 0 {
				r.addHook(pkg, f[0])
			}
		}
		if _, after, ok := strings.Cut(line, "kernel lacks "); ok {
			if name, _, ok := strings.Cut(after, ":"); ok && name != "" && !slices.Contains(r.lacks, name) {
				r.lacks = append(r.lacks, name)
			}
		}
	}
	r.lacks = slices.DeleteFunc(r.lacks, r.active)
	return r
}

func (r *guestReport) addHook(pkg, name string) {
	if n := len(r.hooks); n == 0 || r.hooks[n-1].pkg != pkg {
		r.hooks = append(r.hooks, pkgHooks{pkg: pkg})
	}
	p := &r.hooks[len(r.hooks)-1]
	if !slices.Contains(p.hooks, name) {
		p.hooks = append(p.hooks, name)
	}
}

// compactHooks shortens a list of attach points for the summary: hooks of
// one kind ("tracepoint/syscalls/sys_enter_open", ...) are counted, a kind
// with a single hook keeps its full name.
func compactHooks(names []string) string {
	var kinds []string
	byKind := map[string][]string{}
	for _, n := range names {
		kind, _, _ := strings.Cut(n, "/")
		if _, ok := byKind[kind]; !ok {
			kinds = append(kinds, kind)
		}
		byKind[kind] = append(byKind[kind], n)
	}
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		if hooks := byKind[k]; len(hooks) == 1 {
			parts = append(parts, hooks[0])
		} else {
			parts = append(parts, fmt.Sprintf("%s×%d", k, len(hooks)))
		}
	}
	return strings.Join(parts, ",")
}

// kernelResult is the outcome of one kernel of the matrix.
type kernelResult struct {
	kernel kernel
	accel  string
	boot   bootResult
	report guestReport
	err    error // nil when the guest passed
}

// summary is the one-line verdict on a kernel.
func (k kernelResult) summary() string {
	verdict := "PASS"
	if k.err != nil {
		verdict = "FAIL"
	}
	var hooks []string
	for _, p := range k.report.hooks {
		pkg := p.pkg[strings.LastIndex(p.pkg, "_")+1:]
		hooks = append(hooks, pkg+": "+compactHooks(p.hooks))
	}
	if len(hooks) == 0 {
		hooks = append(hooks, "none reported")
	}
	line := fmt.Sprintf("%-24s %s  boot %s  total %s  accel %s  tests %d passed, %d failed, %d skipped  hooks active: %s",
		k.kernel.release, verdict, seconds(k.boot.initTime), seconds(k.boot.total), k.accel,
		k.report.passed, k.report.failed, k.report.skipped, strings.Join(hooks, "; "))
	if len(k.report.lacks) > 0 {
		line += "  lacks: " + strings.Join(k.report.lacks, ",")
	}
	if k.report.lsm != "" {
		line += "  lsm: " + k.report.lsm
	}
	return line
}

func seconds(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}
