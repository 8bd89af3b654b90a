package agenttest

// Line is one line of vigil's stdout, decoded: an alert (rule, priority,
// output, output_fields; source "syscall"), an event of `--events` (event,
// fields) or an internal record (source "internal", shaped like an alert).
type Line struct {
	Time         string         `json:"time"`
	Rule         string         `json:"rule"`
	Priority     string         `json:"priority"`
	Output       string         `json:"output"`
	OutputFields map[string]any `json:"output_fields"`
	Source       string         `json:"source"`
	Hostname     string         `json:"hostname"`
	Tags         []string       `json:"tags"`
	Event        string         `json:"event"`
	Fields       map[string]any `json:"fields"`
	// Raw is the line as vigil wrote it, newline included.
	Raw string `json:"-"`
}

// IsEvent reports whether the line is an event rather than an alert or an
// internal record.
func (l Line) IsEvent() bool { return l.Event != "" }

// Int reads a JSON number of a line's fields as an integer; anything else
// reads as 0.
func Int(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}
