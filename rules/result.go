package rules

import (
	"fmt"
	"strings"
)

// Load result codes, Falco's names. Errors make a file fail; warnings do
// not.
const (
	ErrFileRead         = "LOAD_ERR_FILE_READ"
	ErrYAMLParse        = "LOAD_ERR_YAML_PARSE"
	ErrYAMLValidate     = "LOAD_ERR_YAML_VALIDATE"
	ErrCompileCondition = "LOAD_ERR_COMPILE_CONDITION"
	ErrCompileOutput    = "LOAD_ERR_COMPILE_OUTPUT"
	ErrValidate         = "LOAD_ERR_VALIDATE"

	WarnUnknownSource    = "LOAD_UNKNOWN_SOURCE"
	WarnNoEvtType        = "LOAD_NO_EVTTYPE"
	WarnUnknownFilter    = "LOAD_UNKNOWN_FILTER"
	WarnUnusedMacro      = "LOAD_UNUSED_MACRO"
	WarnUnusedList       = "LOAD_UNUSED_LIST"
	WarnUnknownItem      = "LOAD_UNKNOWN_ITEM"
	WarnDeprecatedItem   = "LOAD_DEPRECATED_ITEM"
	WarnAppendNoValues   = "LOAD_APPEND_NO_VALUES"
	WarnCompileCondition = "LOAD_COMPILE_CONDITION"
	WarnUnknownKey       = "LOAD_UNKNOWN_KEY"
)

// codeDesc is the one-line description Falco gives each code.
func codeDesc(code string) string {
	switch code {
	case ErrFileRead:
		return "File read error"
	case ErrYAMLParse:
		return "YAML parse error"
	case ErrYAMLValidate:
		return "Error validating internal structure of YAML file"
	case ErrCompileCondition:
		return "Error compiling condition"
	case ErrCompileOutput:
		return "Error compiling output"
	case ErrValidate:
		return "Error validating rule/macro/list/exception objects"
	case WarnUnknownSource:
		return "Unknown event source"
	case WarnNoEvtType:
		return "Condition has no event-type restriction"
	case WarnUnknownFilter:
		return "Unknown field or event-type in condition or output"
	case WarnUnusedMacro:
		return "Unused macro"
	case WarnUnusedList:
		return "Unused list"
	case WarnUnknownItem:
		return "Unknown rules file item"
	case WarnDeprecatedItem:
		return "Used deprecated item"
	case WarnAppendNoValues:
		return "Overriding/appending with no values"
	case WarnCompileCondition:
		return "Warning in rule condition"
	case WarnUnknownKey:
		return "Unknown key in item definition"
	}
	return ""
}

// LoadResult is what loading found in each file, in the shape of Falco's
// `falco -V --json` output (marshal it with encoding/json) plus, per file,
// the rules that loaded and the rules skipped with their reasons.
type LoadResult struct {
	Files []*FileResult `json:"falco_load_results"`
}

// FileResult is the result for one rules file.
type FileResult struct {
	Name string `json:"name"`
	// Successful is false when the file has errors.
	Successful bool      `json:"successful"`
	Errors     []Message `json:"errors"`
	Warnings   []Message `json:"warnings"`
	// RulesLoaded names the rules defined in this file that compiled,
	// enabled or not, in definition order.
	RulesLoaded []string `json:"rules_loaded"`
	// RulesSkipped lists the rules of this file that vigil cannot run: an
	// unknown field, only event types vigil does not trace, or another
	// source than syscall.
	RulesSkipped []SkippedRule `json:"rules_skipped"`
	// RulesPartial lists the rules of this file that loaded but of which a
	// branch can never fire here: it holds only for event types vigil does
	// not trace, and was left out.
	RulesPartial []SkippedRule `json:"rules_partial"`
}

// SkippedRule is a rule that loaded but cannot run on vigil.
type SkippedRule struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
	// Pos is where the rule is defined.
	Pos Position `json:"-"`
}

// Message is an error or a warning, with Falco's code and the context of
// where it was found.
type Message struct {
	Code     string  `json:"code"`
	CodeDesc string  `json:"codedesc"`
	Message  string  `json:"message"`
	Context  Context `json:"context"`
}

// Context locates a message: from the outer item (a rule, macro or list)
// to the exact place (a token of a condition), and the offending line.
type Context struct {
	Locations []Location `json:"locations"`
	Snippet   string     `json:"snippet"`
}

// Location is one level of a message's context.
type Location struct {
	// ItemType is what the location is: "rule", "macro", "list",
	// "exception", "condition expression", "rule output", ...
	ItemType string `json:"item_type"`
	// ItemName is the rule, macro or list name, when there is one.
	ItemName string   `json:"item_name"`
	Position Position `json:"position"`
}

// Position is a place in a rules file. Line and Column are 1-based;
// Offset is the byte offset in the file.
type Position struct {
	Name   string `json:"name"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Offset int    `json:"offset"`
}

// String renders p as "file:line:col".
func (p Position) String() string { return fmt.Sprintf("%s:%d:%d", p.Name, p.Line, p.Column) }

// Pos is the most precise position of m.
func (m Message) Pos() Position {
	if n := len(m.Context.Locations); n > 0 {
		return m.Context.Locations[n-1].Position
	}
	return Position{}
}

// Item returns the type and name of the rules file item m is about (a
// rule, macro or list), or empty strings.
func (m Message) Item() (typ, name string) {
	for _, l := range m.Context.Locations {
		switch l.ItemType {
		case "rule", "macro", "list":
			if l.ItemName != "" {
				return l.ItemType, l.ItemName
			}
		}
	}
	return "", ""
}

// String renders m on one line: "file:line:col: rule 'name': message (CODE)".
func (m Message) String() string {
	var b strings.Builder
	b.WriteString(m.Pos().String())
	b.WriteString(": ")
	if typ, name := m.Item(); name != "" {
		fmt.Fprintf(&b, "%s '%s': ", typ, name)
	}
	b.WriteString(m.Message)
	b.WriteString(" (")
	b.WriteString(m.Code)
	b.WriteString(")")
	return b.String()
}

// OK reports whether every file loaded without errors.
func (r *LoadResult) OK() bool {
	for _, f := range r.Files {
		if !f.Successful {
			return false
		}
	}
	return true
}

// Errors returns every error of every file, in file order.
func (r *LoadResult) Errors() []Message {
	var out []Message
	for _, f := range r.Files {
		out = append(out, f.Errors...)
	}
	return out
}

// Warnings returns every warning of every file, in file order.
func (r *LoadResult) Warnings() []Message {
	var out []Message
	for _, f := range r.Files {
		out = append(out, f.Warnings...)
	}
	return out
}

// Partial returns every partial rule of every file, in file order.
func (r *LoadResult) Partial() []SkippedRule {
	var out []SkippedRule
	for _, f := range r.Files {
		out = append(out, f.RulesPartial...)
	}
	return out
}

// Skipped returns every skipped rule of every file, in file order.
func (r *LoadResult) Skipped() []SkippedRule {
	var out []SkippedRule
	for _, f := range r.Files {
		out = append(out, f.RulesSkipped...)
	}
	return out
}
