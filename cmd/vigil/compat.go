package main

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/internal/sink"
	"github.com/vigil-sensor/vigil/rules"
)

// ruleCompatExec names the internal alert raised on every exec of a 32-bit
// program while the sensor does not see 32-bit syscalls.
const ruleCompatExec = "vigil internal: unwatched 32-bit program"

// compatPriority is that alert's priority: a 32-bit program is rare on a
// 64-bit server, and nothing it does after its exec is seen.
const compatPriority = rules.PriorityWarning

// compatAlert raises ruleCompatExec. Where the sensor cannot see 32-bit
// syscalls (the syscalls tracepoints: sensor.Sensor.CompatErr), a 32-bit
// program's opens, connects and the rest reach no rule; its exec, which the
// sensor does see and marks (event.Process.Compat), is all that tells the
// operator it ran. It runs on the pipeline's goroutine.
type compatAlert struct {
	fields []*event.Field
	text   []byte
	alert  output.Alert
	ev     *event.Event
}

func newCompatAlert() (*compatAlert, error) {
	c := &compatAlert{}
	// The fields say which program ran, and where.
	for _, name := range []string{"proc.pid", "proc.ppid", "proc.exepath", "proc.cmdline", "user.uid", "user.name", "container.id"} {
		f, ok := event.LookupField(name)
		if !ok {
			return nil, fmt.Errorf("field %s of the 32-bit program alert does not exist", name)
		}
		c.fields = append(c.fields, f)
	}
	c.alert = output.Alert{Rule: ruleCompatExec, Priority: compatPriority.String(), Source: output.SourceInternal,
		AppendFields: c.appendFields}
	return c, nil
}

// check raises the alert when e is the successful exec of a 32-bit
// program, and returns how many outputs dropped it.
func (c *compatAlert) check(e *event.Event, out *sink.Set) int {
	if e.Type.Kind() != event.KindExec || e.Res != 0 || e.Proc == nil || !e.Proc.Compat {
		return 0
	}
	c.ev = e
	c.text = append(c.text[:0], "A 32-bit (ia32) program started, and vigil does not see 32-bit syscalls on this kernel with these hooks: what it does goes unwatched ("...)
	for i, f := range c.fields {
		if i > 0 {
			c.text = append(c.text, ' ')
		}
		c.text = append(c.text, f.Name...)
		c.text = append(c.text, '=')
		switch {
		case f.Str != nil:
			s, ok := f.Str(e, event.Arg{})
			if !ok {
				c.text = append(c.text, "<NA>"...)
				continue
			}
			// Quoted: names and arguments come from the caller, control
			// characters included.
			c.text = strconv.AppendQuote(c.text, s)
		case f.Num != nil:
			n, ok := f.Num(e, event.Arg{})
			if !ok {
				c.text = append(c.text, "<NA>"...)
				continue
			}
			c.text = strconv.AppendInt(c.text, n, 10)
		}
	}
	c.text = append(c.text, ')')
	c.alert.Time = e.Time
	c.alert.Output = c.text
	c.alert.Event = e
	n := out.Alert(&c.alert, compatPriority)
	c.alert.Event, c.ev = nil, nil
	return n
}

func (c *compatAlert) appendFields(b []byte) []byte {
	for i, f := range c.fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = output.AppendString(b, f.Name)
		b = append(b, ':')
		var (
			s  string
			n  int64
			ok bool
		)
		if f.Str != nil {
			s, ok = f.Str(c.ev, event.Arg{})
		} else if f.Num != nil {
			n, ok = f.Num(c.ev, event.Arg{})
		}
		b = output.AppendTyped(b, f.Type, ok, s, n, netip.Addr{})
	}
	return b
}
