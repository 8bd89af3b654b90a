package rules

import (
	"strconv"

	"github.com/vigil-sensor/vigil/event"
)

// iouringArgClasses bounds the io_uring kind's classes (event.IOURingKey:
// a request's opcode) by a positive check of the opcode: iouring.op
// compared with names (= IORING_OP_OPENAT, in (...), startswith, contains)
// or iouring.opcode with numbers (=, in). A setup has neither field, so no
// check of them holds for its class. Any other check bounds nothing.
func iouringArgClasses(field, op string, vals []string) (uint64, bool) {
	var classes uint64
	switch field {
	case "iouring.op":
		match, ok := textMatch(op)
		if !ok {
			return 0, false
		}
		for o := range uint8(event.IOURingKeySetup) {
			s := event.IOURingOpName(o)
			for _, v := range vals {
				if match(s, v) {
					classes |= 1 << o
					break
				}
			}
		}
	case "iouring.opcode":
		if op != "=" && op != "==" && op != "in" {
			return 0, false
		}
		for _, v := range vals {
			n, err := strconv.ParseInt(v, 0, 64)
			if err != nil {
				return 0, false
			}
			if n >= 0 && n < event.IOURingKeySetup {
				classes |= 1 << n
			}
		}
	default:
		return 0, false
	}
	return classes, true
}
