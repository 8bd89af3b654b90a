package rules

import (
	_ "embed"
)

//go:embed default/vigil_rules.yaml
var defaultRules string

// DefaultName is the name the embedded default rules load under.
const DefaultName = "vigil_rules.yaml"

// Default returns vigil's embedded default rules file as a Source.
func Default() Source {
	return Source{Name: DefaultName, Data: []byte(defaultRules)}
}
