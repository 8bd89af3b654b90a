package rules

import (
	"fmt"
	"strings"
)

// Priority is a rule's severity, in Falco's order: Emergency is the most
// severe, Debug the least. The zero value is no priority; as
// Options.MinPriority it means "no minimum".
type Priority uint8

// Falco's priorities, most severe first.
const (
	PriorityEmergency Priority = iota + 1
	PriorityAlert
	PriorityCritical
	PriorityError
	PriorityWarning
	PriorityNotice
	PriorityInformational
	PriorityDebug
)

// String returns Falco's name for p ("Warning", "Informational", ...).
func (p Priority) String() string {
	switch p {
	case PriorityEmergency:
		return "Emergency"
	case PriorityAlert:
		return "Alert"
	case PriorityCritical:
		return "Critical"
	case PriorityError:
		return "Error"
	case PriorityWarning:
		return "Warning"
	case PriorityNotice:
		return "Notice"
	case PriorityInformational:
		return "Informational"
	case PriorityDebug:
		return "Debug"
	}
	return fmt.Sprintf("Priority(%d)", uint8(p))
}

// ParsePriority parses a priority name as Falco does: case-insensitively,
// with "info" accepted for Informational.
func ParsePriority(s string) (Priority, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "emergency":
		return PriorityEmergency, nil
	case "alert":
		return PriorityAlert, nil
	case "critical":
		return PriorityCritical, nil
	case "error":
		return PriorityError, nil
	case "warning":
		return PriorityWarning, nil
	case "notice":
		return PriorityNotice, nil
	case "informational", "info":
		return PriorityInformational, nil
	case "debug":
		return PriorityDebug, nil
	}
	return 0, fmt.Errorf("parsing priority %q: want one of emergency, alert, critical, error, warning, notice, informational (info), debug", s)
}

// AtLeast reports whether p is as severe as min or more; every priority is
// when min is zero.
func (p Priority) AtLeast(min Priority) bool { return min == 0 || p <= min }
