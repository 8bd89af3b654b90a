package output

import "strings"

// tactic is a MITRE ATT&CK tactic as Falco's rules tag it
// ("mitre_credential_access").
type tactic struct{ tag, id, name string }

var tactics = []tactic{
	{"mitre_reconnaissance", "TA0043", "Reconnaissance"},
	{"mitre_resource_development", "TA0042", "Resource Development"},
	{"mitre_initial_access", "TA0001", "Initial Access"},
	{"mitre_execution", "TA0002", "Execution"},
	{"mitre_persistence", "TA0003", "Persistence"},
	{"mitre_privilege_escalation", "TA0004", "Privilege Escalation"},
	{"mitre_defense_evasion", "TA0005", "Defense Evasion"},
	{"mitre_credential_access", "TA0006", "Credential Access"},
	{"mitre_discovery", "TA0007", "Discovery"},
	{"mitre_lateral_movement", "TA0008", "Lateral Movement"},
	{"mitre_collection", "TA0009", "Collection"},
	{"mitre_command_and_control", "TA0011", "Command and Control"},
	{"mitre_exfiltration", "TA0010", "Exfiltration"},
	{"mitre_impact", "TA0040", "Impact"},
}

// tacticOf returns the tactic a tag names.
func tacticOf(tag string) (*tactic, bool) {
	if !strings.HasPrefix(tag, "mitre_") {
		return nil, false
	}
	for i := range tactics {
		if tactics[i].tag == tag {
			return &tactics[i], true
		}
	}
	return nil, false
}

// techniqueOf splits a technique tag, T1234 or T1234.001, into the
// technique and, for a sub-technique, the whole tag.
func techniqueOf(tag string) (technique, sub string, ok bool) {
	if len(tag) < 5 || tag[0] != 'T' || !digits(tag[1:5]) {
		return "", "", false
	}
	switch {
	case len(tag) == 5:
		return tag, "", true
	case len(tag) == 9 && tag[5] == '.' && digits(tag[6:]):
		return tag[:5], tag, true
	}
	return "", "", false
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// countTactics returns how many of tags name a tactic, and the first.
func countTactics(tags []string) (int, *tactic) {
	n := 0
	var first *tactic
	for _, t := range tags {
		if ta, ok := tacticOf(t); ok {
			if n == 0 {
				first = ta
			}
			n++
		}
	}
	return n, first
}
