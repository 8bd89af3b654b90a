package rules

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vigil-sensor/vigil/rules/internal/ast"
)

// Messages Falco gives for deprecated and conflicting keys.
const (
	warnAppend    = "The 'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."
	warnEnabled   = "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace')."
	errOverAppend = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."
)

// Keys each item kind accepts; others draw a LOAD_UNKNOWN_KEY warning.
func knownKey(kind, key string) bool {
	switch kind {
	case "list":
		switch key {
		case "list", "items", "append", "override":
			return true
		}
	case "macro":
		switch key {
		case "macro", "condition", "append", "override":
			return true
		}
	case "rule":
		switch key {
		case "rule", "desc", "condition", "output", "priority", "enabled", "tags", "source",
			"exceptions", "override", "append", "skip-if-unknown-filter", "warn_evttypes",
			"capture", "capture_duration", "threshold", "sequence":
			return true
		}
	case "exception":
		switch key {
		case "name", "fields", "comps", "values":
			return true
		}
	}
	return false
}

// mapping is a YAML mapping node with its keys looked up.
type mapping struct {
	node   *yaml.Node
	keys   []string
	keyAt  map[string]*yaml.Node
	values map[string]*yaml.Node
}

// deref follows YAML aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 32; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// readMapping checks that n is a mapping without duplicate keys.
func readMapping(at where, n *yaml.Node, msg string) (*mapping, error) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, at.errorf(ErrYAMLValidate, "%s", msg)
	}
	m := &mapping{node: n, keyAt: map[string]*yaml.Node{}, values: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			return nil, at.with("value for", "", k).errorf(ErrYAMLValidate, "mapping keys must be scalars")
		}
		if _, dup := m.values[k.Value]; dup {
			return nil, at.with("value for", k.Value, k).errorf(ErrYAMLValidate, "duplicate key '%s'", k.Value)
		}
		m.keys = append(m.keys, k.Value)
		m.keyAt[k.Value] = k
		m.values[k.Value] = n.Content[i+1]
	}
	return m, nil
}

func (m *mapping) has(key string) bool { _, ok := m.values[key]; return ok }

// scalar returns the non-empty string value of key. With optional, a
// missing key returns ok=false.
func (m *mapping) scalar(at where, key string, optional bool) (string, *yaml.Node, bool, error) {
	n, ok := m.values[key]
	if !ok {
		if optional {
			return "", nil, false, nil
		}
		return "", nil, false, at.errorf(ErrYAMLValidate, "Item has no mapping for key '%s'", key)
	}
	n = deref(n)
	if isNull(n) {
		return "", nil, false, at.errorf(ErrYAMLValidate, "Mapping for key '%s' is empty", key)
	}
	valueAt := at.with("value for", key, n)
	if n.Kind != yaml.ScalarNode {
		return "", nil, false, valueAt.errorf(ErrYAMLValidate, "Value is not a scalar value")
	}
	if n.Value == "" {
		return "", nil, false, valueAt.errorf(ErrYAMLValidate, "Value must be non-empty")
	}
	return n.Value, n, true, nil
}

// boolean returns the boolean value of key.
func (m *mapping) boolean(at where, key string, optional bool) (bool, bool, error) {
	s, n, ok, err := m.scalar(at, key, optional)
	if err != nil || !ok {
		return false, ok, err
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		return false, false, at.with("value for", key, n).errorf(ErrYAMLValidate, "Can't decode YAML scalar value '%s' as a boolean", s)
	}
	return b, true, nil
}

// stringSeq returns the scalars of the sequence at key.
func (m *mapping) stringSeq(at where, key string) ([]string, error) {
	n := deref(m.values[key])
	valueAt := at.with("value for", key, n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, valueAt.errorf(ErrYAMLValidate, "Value is not a sequence")
	}
	out := make([]string, 0, len(n.Content))
	for _, v := range n.Content {
		v = deref(v)
		if v.Kind != yaml.ScalarNode {
			return nil, at.with("list item", "", v).errorf(ErrYAMLValidate, "sequence value is not scalar")
		}
		out = append(out, v.Value)
	}
	return out, nil
}

// tags returns the sorted, deduplicated tags of an item (Falco keeps tags
// as a set).
func (m *mapping) tags(at where) ([]string, error) {
	tags, err := m.stringSeq(at, "tags")
	if err != nil {
		return nil, err
	}
	sort.Strings(tags)
	out := tags[:0]
	for i, t := range tags {
		if i == 0 || t != tags[i-1] {
			out = append(out, t)
		}
	}
	return out, nil
}

// warnUnknownKeys warns about keys kind does not know.
func (l *loader) warnUnknownKeys(at where, m *mapping, kind string) {
	for _, k := range m.keys {
		if !knownKey(kind, k) {
			l.warn(at.with("value for", k, m.keyAt[k]), WarnUnknownKey, "Unknown key '"+k+"'. The key will be ignored.")
		}
	}
}

// readFile reads every document of f into the collector, stopping at the
// first error as Falco does.
func (l *loader) readFile(f *file) {
	dec := yaml.NewDecoder(bytes.NewReader([]byte(f.data)))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			l.fail(yamlError(f, err))
			return
		}
		root := &doc
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		root = deref(root)
		if isNull(root) {
			continue
		}
		at := inFile(f)
		if root.Kind != yaml.SequenceNode {
			if root.Kind == yaml.MappingNode {
				l.fail(at.with("rules content", "", root).errorf(ErrYAMLValidate, "Rules content is not yaml array of objects"))
			} else {
				l.fail(at.with("rules content", "", root).errorf(ErrYAMLValidate, "Rules content is not yaml"))
			}
			return
		}
		for _, item := range root.Content {
			if isNull(item) {
				continue
			}
			if err := l.readItem(f, deref(item)); err != nil {
				l.fail(err)
				return
			}
		}
	}
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlError turns a YAML syntax error into a load error at its line.
func yamlError(f *file, err error) *loadError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	at := inFile(f).withPos(f, "rules content", "", f.pos(line, 1))
	return at.errorf(ErrYAMLParse, "%s", msg)
}

var (
	// listNameRE and macroNameRE are the names Falco accepts: a list name
	// must lex as a bare string, a macro name as an identifier.
	listNameRE  = regexp.MustCompile(`^[^()"'\s=,]+$`)
	macroNameRE = regexp.MustCompile(`^[a-zA-Z]+[a-zA-Z0-9_]*$`)
)

func (l *loader) readItem(f *file, n *yaml.Node) error {
	at := inFile(f)
	m, err := readMapping(at.with("rules content item", "", n), n, "Unexpected element type. Each element should be a yaml associative array.")
	if err != nil {
		return err
	}
	switch {
	case m.has("required_engine_version"):
		return l.readEngineVersion(at.with("required_engine_version", "", n), m)
	case m.has("required_plugin_versions"):
		return l.readPluginVersions(at, m)
	case m.has("list"):
		return l.readList(f, at, m)
	case m.has("macro"):
		return l.readMacro(f, at, m)
	case m.has("rule"):
		return l.readRule(f, at, m)
	}
	l.warn(at.with("rules content item", "", n), WarnUnknownItem, "Unknown top level item")
	return nil
}

var semverRE = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

// readEngineVersion accepts Falco's engine version forms (an integer or a
// semver); vigil runs every version it can parse.
func (l *loader) readEngineVersion(at where, m *mapping) error {
	s, n, _, err := m.scalar(at, "required_engine_version", false)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(s, 10, 32); err == nil {
		return nil
	}
	if !semverRE.MatchString(s) {
		return at.with("value for", "required_engine_version", n).errorf(ErrYAMLValidate,
			"Unable to parse engine version '%s' as a semver string. Expected \"x.y.z\" semver format.", s)
	}
	return nil
}

// readPluginVersions checks the shape of required_plugin_versions; vigil
// has no plugins and provides the container fields itself.
func (l *loader) readPluginVersions(at where, m *mapping) error {
	n := deref(m.values["required_plugin_versions"])
	pluginsAt := at.with("required plugin versions", "", n)
	if n.Kind != yaml.SequenceNode {
		return pluginsAt.errorf(ErrYAMLValidate, "Value of required_plugin_versions must be a sequence")
	}
	for _, p := range n.Content {
		p = deref(p)
		entryAt := pluginsAt.with("required plugin versions entry", "", p)
		pm, err := readMapping(entryAt, p, "Plugin version must be a mapping")
		if err != nil {
			return err
		}
		name, _, _, err := pm.scalar(entryAt, "name", false)
		if err != nil {
			return err
		}
		entryAt = pluginsAt.with("required plugin versions entry", name, p)
		if _, _, _, err := pm.scalar(entryAt, "version", false); err != nil {
			return err
		}
		if alts, ok := pm.values["alternatives"]; ok {
			alts = deref(alts)
			if alts.Kind != yaml.SequenceNode {
				return entryAt.errorf(ErrYAMLValidate, "Value of plugin version alternatives must be a sequence")
			}
			for _, a := range alts.Content {
				altAt := entryAt.with("required plugin versions alternative", "", a)
				am, err := readMapping(altAt, a, "Plugin version alternative must be a mapping")
				if err != nil {
					return err
				}
				if _, _, _, err := am.scalar(altAt, "name", false); err != nil {
					return err
				}
				if _, _, _, err := am.scalar(altAt, "version", false); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// readOverrides reads the override key: which keys to append and which to
// replace.
func readOverrides(at where, m *mapping, appendable, replaceable func(string) bool) (app, repl map[string]bool, err error) {
	n, ok := m.values["override"]
	if !ok {
		return nil, nil, nil
	}
	n = deref(n)
	overrideAt := at.with("overrides", "", n)
	om, err := readMapping(overrideAt, n, "Value of override must be a mapping")
	if err != nil {
		return nil, nil, err
	}
	app, repl = map[string]bool{}, map[string]bool{}
	for _, key := range om.keys {
		v := deref(om.values[key])
		opAt := overrideAt.with("overrides", key, om.keyAt[key])
		op := ""
		if v.Kind == yaml.ScalarNode {
			op = v.Value
		}
		switch op {
		case "append":
			if !appendable(key) {
				return nil, nil, opAt.errorf(ErrYAMLValidate, "Key '%s' cannot be appended to, use 'replace' instead", key)
			}
			app[key] = true
		case "replace":
			if !replaceable(key) {
				return nil, nil, opAt.errorf(ErrYAMLValidate, "Key '%s' cannot be replaced", key)
			}
			repl[key] = true
		default:
			allowed := ""
			if appendable(key) {
				allowed += "append "
			}
			if replaceable(key) {
				allowed += "replace "
			}
			return nil, nil, overrideAt.with("value for", key, v).errorf(ErrYAMLValidate,
				"Invalid override operation for key '%s': '%s'. Allowed values are: %s", key, op, allowed)
		}
	}
	return app, repl, nil
}

// readName reads the name of an item of kind (list, macro or rule) and
// returns it with the place of the named item.
func readName(at where, m *mapping, kind string) (string, where, error) {
	name, _, _, err := m.scalar(at.with(kind, "", m.node), kind, false)
	if err != nil {
		return "", at, err
	}
	return name, at.with(kind, name, m.node), nil
}

// readChange reads how an item changes the earlier one of its name: the
// deprecated append key (with its warning) and the override key, which
// cannot be used together.
func (l *loader) readChange(at where, m *mapping, appendable, replaceable func(string) bool) (appendFlag bool, app, repl map[string]bool, err error) {
	if appendFlag, _, err = m.boolean(at, "append", true); err != nil {
		return false, nil, nil, err
	}
	if appendFlag {
		l.warn(at, WarnDeprecatedItem, warnAppend)
	}
	if app, repl, err = readOverrides(at, m, appendable, replaceable); err != nil {
		return false, nil, nil, err
	}
	if appendFlag && len(app)+len(repl) > 0 {
		return false, nil, nil, at.errorf(ErrYAMLValidate, errOverAppend)
	}
	return appendFlag, app, repl, nil
}

// text returns the value of key as a source text, whose positions map
// back to the file.
func (m *mapping) text(at where, f *file, key string) (*textSource, error) {
	_, n, _, err := m.scalar(at, key, false)
	if err != nil {
		return nil, err
	}
	return scalarSource(f, n), nil
}

// priority returns the priority of a rule.
func (m *mapping) priority(at where) (Priority, error) {
	s, n, _, err := m.scalar(at, "priority", false)
	if err != nil {
		return 0, err
	}
	p, err := ParsePriority(s)
	if err != nil {
		return 0, at.with("rule priority", "", n).errorf(ErrYAMLValidate, "Invalid priority")
	}
	return p, nil
}

func (l *loader) readList(f *file, at where, m *mapping) error {
	name, at, err := readName(at, m, "list")
	if err != nil {
		return err
	}
	if !listNameRE.MatchString(name) {
		return at.errorf(ErrValidate, "List has an invalid name. List names must match this regular expression: %s", `([^()"'[:space:]=,]+)`)
	}
	l.warnUnknownKeys(at, m, "list")
	info := &listInfo{name: name, at: at}
	if !m.has("items") {
		return at.errorf(ErrYAMLValidate, "Item has no mapping for key 'items'")
	}
	if info.items, err = m.stringSeq(at, "items"); err != nil {
		return err
	}
	isItems := func(k string) bool { return k == "items" }
	appendFlag, app, _, err := l.readChange(at, m, isItems, isItems)
	if err != nil {
		return err
	}
	if appendFlag || app["items"] {
		return l.col.appendList(info)
	}
	l.col.defineList(info)
	return nil
}

func (l *loader) readMacro(f *file, at where, m *mapping) error {
	name, at, err := readName(at, m, "macro")
	if err != nil {
		return err
	}
	if !macroNameRE.MatchString(name) {
		return at.errorf(ErrValidate, "Macro has an invalid name. Macro names must match this regular expression: %s", `([a-zA-Z]+[a-zA-Z0-9_]*)`)
	}
	l.warnUnknownKeys(at, m, "macro")
	info := &macroInfo{name: name, at: at}
	if info.cond, err = m.text(at, f, "condition"); err != nil {
		return err
	}
	isCond := func(k string) bool { return k == "condition" }
	appendFlag, app, _, err := l.readChange(at, m, isCond, isCond)
	if err != nil {
		return err
	}
	if appendFlag || app["condition"] {
		return l.col.appendMacro(info)
	}
	l.col.defineMacro(info)
	return nil
}

func ruleAppendable(k string) bool {
	switch k {
	case "condition", "output", "desc", "tags", "exceptions", "threshold":
		return true
	}
	return false
}

func ruleReplaceable(k string) bool {
	switch k {
	case "condition", "output", "desc", "priority", "tags", "exceptions", "enabled", "warn_evttypes", "skip-if-unknown-filter",
		"threshold":
		return true
	}
	return false
}

// readRule reads a rule item: a definition, an override of an earlier
// rule, or one of the deprecated forms (append: true, or an enabled key
// alone).
func (l *loader) readRule(f *file, at where, m *mapping) error {
	name, at, err := readName(at, m, "rule")
	if err != nil {
		return err
	}
	l.warnUnknownKeys(at, m, "rule")
	appendFlag, app, repl, err := l.readChange(at, m, ruleAppendable, ruleReplaceable)
	if err != nil {
		return err
	}
	switch {
	case len(app)+len(repl) > 0:
		return l.readRuleOverride(f, at, m, name, app, repl)
	case appendFlag:
		return l.readRuleAppend(f, at, m, name)
	case !m.has("condition") && !m.has("output") && !m.has("desc") && !m.has("priority"):
		return l.readRuleEnable(at, m, name)
	}
	info, err := l.readRuleDefinition(f, at, m, name)
	if err != nil {
		return err
	}
	return l.col.defineRule(l, info)
}

// readRuleOverride applies the override key of a rule: its appends, then its
// replaces.
func (l *loader) readRuleOverride(f *file, at where, m *mapping, name string, app, repl map[string]bool) error {
	if err := checkOverrideKeys(at, m, app, repl); err != nil {
		return err
	}
	if len(app) > 0 {
		u, err := l.readRuleUpdate(f, at, m, name, app)
		if err != nil {
			return err
		}
		if err := l.col.appendRule(l, u); err != nil {
			return err
		}
	}
	if len(repl) > 0 {
		u, err := l.readRuleUpdate(f, at, m, name, repl)
		if err != nil {
			return err
		}
		return l.col.replaceRule(l, u)
	}
	return nil
}

// checkOverrideKeys checks that the keys named under override are defined
// and that the defined keys a rule can override are named under override.
func checkOverrideKeys(at where, m *mapping, app, repl map[string]bool) error {
	expected := map[string]bool{}
	for _, k := range m.keys {
		if ruleAppendable(k) || ruleReplaceable(k) {
			expected[k] = true
		}
	}
	for _, set := range []struct {
		keys map[string]bool
		kind string
	}{{app, "append"}, {repl, "replace"}} {
		for _, k := range slices.Sorted(maps.Keys(set.keys)) {
			if !expected[k] {
				return at.errorf(ErrYAMLValidate, "An %s override for '%s' was specified but '%s' is not defined", set.kind, k, k)
			}
		}
	}
	for _, k := range m.keys {
		if expected[k] && !app[k] && !repl[k] {
			return at.with("overrides", k, m.keyAt[k]).errorf(ErrYAMLValidate,
				"Unexpected key '%s': no corresponding entry under 'override' is defined.", k)
		}
	}
	return nil
}

// readRuleAppend applies the deprecated append key: the rule's condition and
// exceptions extend the earlier rule's.
func (l *loader) readRuleAppend(f *file, at where, m *mapping, name string) error {
	keys := map[string]bool{}
	for _, k := range []string{"condition", "exceptions", "threshold"} {
		if m.has(k) {
			keys[k] = true
		}
	}
	u, err := l.readRuleUpdate(f, at, m, name, keys)
	if err != nil {
		return err
	}
	return l.col.appendRule(l, u)
}

// readRuleEnable applies the deprecated item that only switches an earlier
// rule on or off.
func (l *loader) readRuleEnable(at where, m *mapping, name string) error {
	enabled, _, err := m.boolean(at, "enabled", false)
	if err != nil {
		return err
	}
	l.warn(at, WarnDeprecatedItem, warnEnabled)
	return l.col.enableRule(name, enabled, at)
}

// readRuleDefinition reads a rule that defines every key, or the defaults
// of those that are optional.
func (l *loader) readRuleDefinition(f *file, at where, m *mapping, name string) (*ruleInfo, error) {
	info := &ruleInfo{name: name, at: at, file: f, enabled: true, warnEvttypes: true, source: "syscall"}
	var err error
	if m.has("sequence") {
		if m.has("threshold") {
			return nil, at.with("value for", "threshold", m.keyAt["threshold"]).errorf(ErrYAMLValidate,
				"A rule has a threshold or a sequence, not both")
		}
		if info.sequence, err = readSequence(f, at, m); err != nil {
			return nil, err
		}
	}
	// A sequence's steps are its conditions; a condition it has besides
	// holds in every step.
	if info.sequence == nil || m.has("condition") {
		if info.cond, err = m.text(at, f, "condition"); err != nil {
			return nil, err
		}
	}
	if m.has("threshold") {
		if info.threshold, err = readThreshold(at, m); err != nil {
			return nil, err
		}
	}
	if info.output, err = m.text(at, f, "output"); err != nil {
		return nil, err
	}
	info.output = trimSource(info.output)
	if info.desc, _, _, err = m.scalar(at, "desc", false); err != nil {
		return nil, err
	}
	if info.priority, err = m.priority(at); err != nil {
		return nil, err
	}
	if src, _, ok, err := m.scalar(at, "source", true); err != nil {
		return nil, err
	} else if ok {
		info.source = src
	}
	for _, b := range []struct {
		key string
		dst *bool
	}{{"enabled", &info.enabled}, {"warn_evttypes", &info.warnEvttypes}, {"skip-if-unknown-filter", &info.skipUnknown}} {
		v, ok, err := m.boolean(at, b.key, true)
		if err != nil {
			return nil, err
		}
		if ok {
			*b.dst = v
		}
	}
	if info.tags, err = m.tags(at); err != nil {
		return nil, err
	}
	if info.exceptions, err = l.readExceptions(f, at, m, false); err != nil {
		return nil, err
	}
	return info, nil
}

// trimSource trims the blanks around an output, as Falco does.
func trimSource(s *textSource) *textSource {
	lead := len(s.text) - len(strings.TrimLeft(s.text, " \t\r\n"))
	s.text = strings.TrimSpace(s.text)
	if lead > 0 {
		for i := range s.pieces {
			s.pieces[i].start -= lead
			if s.pieces[i].start < 0 {
				for j := range s.pieces[i].anchors {
					s.pieces[i].anchors[j].off -= lead
				}
				s.pieces[i].start = 0
			}
		}
	}
	return s
}

// readRuleUpdate reads the keys of an append or replace.
func (l *loader) readRuleUpdate(f *file, at where, m *mapping, name string, keys map[string]bool) (*ruleUpdate, error) {
	u := &ruleUpdate{name: name, at: at}
	var err error
	if keys["condition"] {
		if u.cond, err = m.text(at, f, "condition"); err != nil {
			return nil, err
		}
	}
	if keys["output"] {
		if u.output, err = m.text(at, f, "output"); err != nil {
			return nil, err
		}
		u.output = trimSource(u.output)
	}
	if keys["threshold"] {
		if u.threshold, err = readThreshold(at, m); err != nil {
			return nil, err
		}
	}
	if keys["desc"] {
		s, _, _, err := m.scalar(at, "desc", false)
		if err != nil {
			return nil, err
		}
		u.desc = &s
	}
	if keys["tags"] {
		if u.tags, err = m.tags(at); err != nil {
			return nil, err
		}
		u.hasTags = true
	}
	if keys["exceptions"] {
		if u.exceptions, err = l.readExceptions(f, at, m, true); err != nil {
			return nil, err
		}
		u.hasExceptions = true
	}
	if keys["priority"] {
		p, err := m.priority(at)
		if err != nil {
			return nil, err
		}
		u.priority = &p
	}
	for _, b := range []struct {
		key string
		dst **bool
	}{{"enabled", &u.enabled}, {"warn_evttypes", &u.warnEvttypes}, {"skip-if-unknown-filter", &u.skipUnknown}} {
		if !keys[b.key] {
			continue
		}
		v, _, err := m.boolean(at, b.key, false)
		if err != nil {
			return nil, err
		}
		*b.dst = &v
	}
	return u, nil
}

// readExceptions reads a rule's exceptions. In appends, fields may be
// missing (values are appended to an existing exception).
func (l *loader) readExceptions(f *file, at where, m *mapping, appending bool) ([]*exceptionInfo, error) {
	n, ok := m.values["exceptions"]
	if !ok || isNull(n) {
		return nil, nil
	}
	n = deref(n)
	listAt := at.with("exceptions", "", n)
	if n.Kind != yaml.SequenceNode {
		return nil, listAt.errorf(ErrYAMLValidate, "Rule exceptions must be a sequence")
	}
	var out []*exceptionInfo
	for _, exn := range n.Content {
		exn = deref(exn)
		unnamedAt := listAt.with("exception", "", exn)
		em, err := readMapping(unnamedAt, exn, "Rule exception must be a mapping")
		if err != nil {
			return nil, err
		}
		name, _, _, err := em.scalar(unnamedAt, "name", false)
		if err != nil {
			return nil, err
		}
		exAt := at.with("exception", name, exn)
		l.warnUnknownKeys(exAt, em, "exception")
		for _, prev := range out {
			if prev.name == name {
				return nil, exAt.errorf(ErrYAMLValidate, "Exceptions names in the same object must be unique")
			}
		}
		ex := &exceptionInfo{name: name, at: exAt}
		if ex.fields, err = readEntry(f, exAt, em, "fields", appending); err != nil {
			return nil, err
		}
		if ex.comps, err = readEntry(f, exAt, em, "comps", true); err != nil {
			return nil, err
		}
		if vals, ok := em.values["values"]; ok {
			vals = deref(vals)
			valueAt := exAt.with("exception values", "", vals)
			if vals.Kind != yaml.SequenceNode {
				return nil, valueAt.errorf(ErrYAMLValidate, "Rule exception values must be a sequence")
			}
			for _, v := range vals.Content {
				e, err := decodeEntry(f, valueAt.with("exception value", "", deref(v)), deref(v))
				if err != nil {
					return nil, err
				}
				ex.values = append(ex.values, e)
			}
		} else if appending {
			l.warn(exAt, WarnAppendNoValues, "Overriding/appending exception with no values")
		}
		out = append(out, ex)
	}
	return out, nil
}

// readEntry reads the fields or comps of an exception: a scalar or a
// sequence of scalars.
func readEntry(f *file, at where, m *mapping, key string, optional bool) (entry, error) {
	n, ok := m.values[key]
	if !ok {
		if optional {
			return entry{}, nil
		}
		return entry{}, at.errorf(ErrYAMLValidate, "Item has no mapping for key '%s'", key)
	}
	n = deref(n)
	return decodeEntry(f, at.with("value for", key, n), n)
}

// maxEntryNodes bounds the nodes one exception entry may expand to, so
// YAML aliases nested in aliases cannot make decoding explode.
const maxEntryNodes = 1 << 16

// decodeEntry decodes a scalar or a (nested) sequence of scalars.
func decodeEntry(f *file, at where, n *yaml.Node) (entry, error) {
	budget := maxEntryNodes
	return decodeEntryBudget(f, at, n, &budget)
}

func decodeEntryBudget(f *file, at where, n *yaml.Node, budget *int) (entry, error) {
	*budget--
	if *budget < 0 {
		return entry{}, at.with("exception", "", n).errorf(ErrYAMLValidate, "Value has more than %d elements", maxEntryNodes)
	}
	e := entry{set: true, node: n, file: f}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == "" {
			return entry{}, at.with("exception", "", n).errorf(ErrYAMLValidate, "Value must be non-empty")
		}
		e.item = n.Value
	case yaml.SequenceNode:
		e.isList = true
		for _, v := range n.Content {
			sub, err := decodeEntryBudget(f, at, deref(v), budget)
			if err != nil {
				return entry{}, err
			}
			e.items = append(e.items, sub)
		}
	default:
		return entry{}, at.with("exception", "", n).errorf(ErrYAMLValidate, "Value must be a scalar or a sequence")
	}
	return e, nil
}

// entryPos is the position to give operands built from an
// exception entry, so compile errors point at the YAML value.
func (l *loader) entryPos(e entry) ast.Pos {
	if e.node == nil {
		return ast.Pos{Src: -1}
	}
	return ast.Pos{Src: l.addSource(scalarSource(e.file, e.node))}
}
