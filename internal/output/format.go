package output

import (
	"fmt"
	"strings"
)

// Format is the shape of an alert line.
type Format uint8

// The formats, Falco's first: the zero Format is the default.
const (
	// FormatFalco is Falco's json_output shape, what falcosidekick and
	// Elastic's Falco integration parse.
	FormatFalco Format = iota
	// FormatOCSF is an OCSF 1.x Detection Finding (class 2004).
	FormatOCSF
	// FormatECS is an Elastic Common Schema document with event.kind alert.
	FormatECS
	// FormatCEF is an ArcSight Common Event Format line, for syslog
	// collectors that parse CEF rather than JSON.
	FormatCEF
	// NumFormats is the number of formats, for tables indexed by Format.
	NumFormats = iota
)

var formatNames = [NumFormats]string{"falco", "ocsf", "ecs", "cef"}

// String returns the format's name as configuration writes it.
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// JSON reports whether lines of f are JSON documents.
func (f Format) JSON() bool { return f != FormatCEF }

// ParseFormat parses a format name.
func ParseFormat(s string) (Format, error) {
	for i, n := range formatNames {
		if n == s {
			return Format(i), nil
		}
	}
	return 0, fmt.Errorf("unknown format %q: want one of %s", s, strings.Join(formatNames[:], ", "))
}

// UnmarshalText parses a format name, for configuration files.
func (f *Format) UnmarshalText(b []byte) error {
	v, err := ParseFormat(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// MarshalText returns the format's name.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// Append appends a as one line of format f, ending in a newline.
func (enc *Encoder) Append(f Format, b []byte, a *Alert) []byte {
	switch f {
	case FormatOCSF:
		return enc.AppendOCSF(b, a)
	case FormatECS:
		return enc.AppendECS(b, a)
	case FormatCEF:
		return enc.AppendCEF(b, a)
	}
	return enc.AppendAlert(b, a)
}

// severity is what the formats other than Falco's make of one of Falco's
// priorities.
type severity struct {
	// syslog is the RFC 5424 severity: Falco's priorities are syslog's
	// levels, Emergency 0 to Debug 7.
	syslog uint8
	// ocsf is OCSF's severity_id, also ECS's event.severity, where higher
	// is more severe.
	ocsf     uint8
	ocsfName string
	// cef is CEF's 0-10 severity.
	cef uint8
}

// severities is indexed by syslog level, so by Falco priority in order.
var severities = [8]severity{
	{0, 6, "Fatal", 10},
	{1, 5, "Critical", 9},
	{2, 5, "Critical", 8},
	{3, 4, "High", 7},
	{4, 3, "Medium", 5},
	{5, 2, "Low", 3},
	{6, 1, "Informational", 1},
	{7, 1, "Informational", 0},
}

// priorityNames are Falco's priority names by syslog level.
var priorityNames = [8]string{"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"}

// SyslogSeverity returns the RFC 5424 severity (0 Emergency to 7 Debug) of a
// Falco priority name; a name it does not know is Informational.
func SyslogSeverity(priority string) uint8 { return severityOf(priority).syslog }

func severityOf(priority string) severity {
	for i, n := range priorityNames {
		if n == priority {
			return severities[i]
		}
	}
	return severities[6]
}
