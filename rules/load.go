package rules

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/rules/internal/ast"
)

// ErrInvalid is returned (wrapped) by Load when a rules file has errors;
// the LoadResult says which.
var ErrInvalid = errors.New("invalid rules")

// MaxFileBytes is the largest rules file Load takes: 20 times the largest
// of Falco's upstream files. Parsing costs about a hundred bytes of memory
// per byte of YAML (a 4 MB list of two million items took 440 MB), so a
// larger file is refused with an error rather than parsed.
const MaxFileBytes = 2 << 20

// Source is one rules file: its name (used in messages) and content.
type Source struct {
	Name string
	Data []byte
}

// Options tune Load.
type Options struct {
	// Strict makes a rule that needs a field or event type vigil does not
	// provide an error instead of a skipped rule, unless the rule sets
	// skip-if-unknown-filter.
	Strict bool
	// MinPriority leaves rules less severe than it out of matching (they
	// still load). Zero means no minimum.
	MinPriority Priority
	// MatchAll makes Match report every matching rule of an event, not
	// only the first (Falco's rule_matching: all).
	MatchAll bool
	// Enable and Disable name rules to switch on or off after loading,
	// over their enabled key.
	Enable, Disable []string
	// Logger receives a summary of the load at debug level; nil discards.
	Logger *slog.Logger
	// Groups bounds the state of threshold and sequence rules.
	Groups GroupLimits

	// noCache turns off the per-event field cache (benchmarks compare).
	noCache bool
}

// loader holds the state of one Load.
type loader struct {
	opts     Options
	files    []*file
	sources  []*textSource
	col      collector
	reported map[*loadError]bool
}

// Load reads rules files in order (later files extend and override
// earlier ones, as in Falco), compiles every rule vigil can run and
// indexes them by event type. The LoadResult is always returned; the
// Ruleset is nil and the error wraps ErrInvalid when a file has errors.
func Load(files []Source, opts Options) (*Ruleset, *LoadResult, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	l := &loader{opts: opts, reported: map[*loadError]bool{}}
	res := &LoadResult{}
	for _, src := range files {
		if len(src.Data) > MaxFileBytes {
			src.Data = src.Data[:0] // nothing of it is parsed or kept
			f := newFile(src.Name, src.Data)
			l.files = append(l.files, f)
			res.Files = append(res.Files, f.res)
			l.fail(inFile(f).errorf(ErrFileRead, "the file is larger than %d bytes, the limit of a rules file", MaxFileBytes))
			continue
		}
		f := newFile(src.Name, src.Data)
		l.files = append(l.files, f)
		res.Files = append(res.Files, f.res)
		l.readFile(f)
	}
	if !res.OK() {
		return nil, res, l.invalid(res)
	}
	rs := l.compile()
	if !res.OK() {
		return nil, res, l.invalid(res)
	}
	log.Debug("rules loaded", "files", len(files), "rules", len(rs.rules), "active", len(rs.active),
		"skipped", len(res.Skipped()), "warnings", len(res.Warnings()))
	return rs, res, nil
}

func (l *loader) invalid(res *LoadResult) error {
	errs := res.Errors()
	return fmt.Errorf("loading rules: %w: %s", ErrInvalid, errs[0].String())
}

// fail records an error in the file it is about.
func (l *loader) fail(err error) {
	var le *loadError
	if !errors.As(err, &le) {
		le = &loadError{code: ErrValidate, msg: err.Error(), at: inFile(l.files[len(l.files)-1])}
	}
	if l.reported[le] {
		return
	}
	l.reported[le] = true
	res := le.at.f.res
	res.Successful = false
	res.Errors = append(res.Errors, le.at.message(le.code, le.msg))
}

// warn records a warning at at.
func (l *loader) warn(at where, code, msg string) {
	at.f.res.Warnings = append(at.f.res.Warnings, at.message(code, msg))
}

// addSource registers a text so tree positions can name it.
func (l *loader) addSource(s *textSource) int {
	l.sources = append(l.sources, s)
	return len(l.sources) - 1
}

// locate maps a tree position to a file and position.
func (l *loader) locate(p ast.Pos) (*file, Position, bool) {
	if p.Src < 0 || p.Src >= len(l.sources) {
		return nil, Position{}, false
	}
	f, pos := l.sources[p.Src].locate(p.Off)
	return f, pos, true
}

// contextualize turns a parse or compile error into a load error at the
// exact position it names, under the item at.
func (l *loader) contextualize(at where, code string, err error) error {
	var le *loadError
	if errors.As(err, &le) {
		return le
	}
	var pos ast.Pos
	msg := err.Error()
	var perr *ast.Error
	var cerr *compileError
	switch {
	case errors.As(err, &perr):
		pos, msg = perr.Pos, perr.Msg
	case errors.As(err, &cerr):
		pos = cerr.pos
	default:
		return at.errorf(code, "%s", msg)
	}
	if f, p, ok := l.locate(pos); ok {
		at = at.withPos(f, "condition expression", "", p)
	}
	return at.errorf(code, "%s", msg)
}

// compile resolves and compiles every collected rule.
func (l *loader) compile() *Ruleset {
	for _, m := range l.col.macros.order {
		if _, err := l.macroTree(m); err != nil {
			l.fail(err)
		}
	}
	cc := newCompiler(l.opts.noCache)
	rs := &Ruleset{matchAll: l.opts.MatchAll, limits: l.opts.Groups}
	if rs.limits.PerRule <= 0 {
		rs.limits.PerRule = DefaultGroupsPerRule
	}
	if rs.limits.Total <= 0 {
		rs.limits.Total = DefaultGroups
	}
	if rs.limits.Stats == nil {
		rs.limits.Stats = &GroupStats{}
	}
	enable := map[string]*bool{}
	for _, n := range l.opts.Enable {
		t := true
		enable[n] = &t
	}
	for _, n := range l.opts.Disable {
		f := false
		enable[n] = &f
	}
	// Prepare every rule first, so nodes shared between rules are known
	// before compiling.
	var preps []*prepared
	for _, info := range l.col.rules.order {
		if p := l.prepareRule(info); p != nil {
			preps = append(preps, p)
			if p.steps != nil {
				for _, st := range p.steps {
					if st.tree != nil {
						cc.count(st.tree)
					}
				}
			} else if p.tree != nil {
				cc.count(p.tree)
			}
		}
	}
	for _, p := range preps {
		r := l.compileRule(cc, p)
		if r == nil {
			continue
		}
		info := p.info
		if v := enable[r.Name]; v != nil {
			r.Enabled = *v
		}
		if r.threshold != nil || r.seq != nil {
			r.state = rs.nstateful
			rs.nstateful++
		}
		rs.rules = append(rs.rules, r)
		info.file.res.RulesLoaded = append(info.file.res.RulesLoaded, r.Name)
		if !r.Enabled || !r.Priority.AtLeast(l.opts.MinPriority) {
			continue
		}
		rs.active = append(rs.active, r)
		for _, t := range r.types.Types() {
			rs.byType[t] = append(rs.byType[t], r)
		}
	}
	for _, m := range l.col.macros.order {
		if !m.used {
			l.warn(m.at, WarnUnusedMacro, "Macro not referred to by any other rule/macro")
		}
	}
	for _, li := range l.col.lists.order {
		if !li.used {
			l.warn(li.at, WarnUnusedList, "List not referred to by any other rule/macro")
		}
	}
	rs.nslots, rs.nresults = cc.nslots, cc.nresults
	rs.def = *rs.NewMatcher()
	return rs
}

// skip records a rule vigil cannot run, or fails it in strict mode.
func (l *loader) skip(info *ruleInfo, at where, code, reason string) {
	if l.opts.Strict && !info.skipUnknown {
		l.fail(at.errorf(ErrCompileCondition, "%s", reason))
		return
	}
	l.warn(at, code, reason+"; skipping rule")
	info.file.res.RulesSkipped = append(info.file.res.RulesSkipped,
		SkippedRule{Name: info.name, Reason: reason, Pos: info.at.locs[len(info.at.locs)-1].Position})
}

// prepared is a rule whose condition is resolved and pruned, ready to
// compile. tree is nil when the condition is always true.
type prepared struct {
	info  *ruleInfo
	tree  ast.Expr
	types typeSet
	// filters bounds the events of each filtered kind the rule can
	// match (openfilter.go).
	filters kindClauses
	// steps are a sequence's steps, each prepared on its own.
	steps []*prepared
}

// prepareRule resolves a rule's condition (for a sequence, each step's)
// and decides whether vigil can run it; it returns nil when the rule is
// skipped or has errors (recorded in the result).
func (l *loader) prepareRule(info *ruleInfo) *prepared {
	ruleAt := info.at
	if info.unknownSource {
		info.file.res.RulesSkipped = append(info.file.res.RulesSkipped,
			SkippedRule{Name: info.name, Reason: "source " + info.source + " is not supported (only syscall)", Pos: ruleAt.locs[len(ruleAt.locs)-1].Position})
		return nil
	}
	if info.sequence == nil {
		return l.prepareCond(info, info.cond, nil, "")
	}
	// A sequence runs on the event types and kernel filters of all its
	// steps: its rule-level tree is the steps or-ed, each step compiled
	// on its own.
	out := &prepared{info: info}
	var trees []ast.Expr
	for i, step := range info.sequence.steps {
		p := l.prepareCond(info, step, info.cond, "step "+strconv.Itoa(i+1)+": ")
		if p == nil {
			return nil
		}
		out.steps = append(out.steps, p)
		if p.tree == nil {
			trees = nil
			out.types = event.AllTypes()
			break
		}
		trees = append(trees, p.tree)
	}
	if trees == nil {
		out.filters = ruleClauses(nil)
		return out
	}
	out.tree = &ast.Or{Pos: trees[0].Position(), Children: trees}
	out.types, _ = eventTypes(out.tree)
	out.filters = ruleClauses(out.tree)
	return out
}

// prepareCond resolves one condition, and also (when not nil) with it in
// the same event, with the rule's exceptions. what prefixes the reasons
// for skipping.
func (l *loader) prepareCond(info *ruleInfo, src, also *textSource, what string) *prepared {
	ruleAt := info.at
	tree, err := l.parseSource(src)
	if err != nil {
		l.fail(l.contextualize(ruleAt, ErrCompileCondition, err))
		return nil
	}
	if also != nil {
		other, err := l.parseSource(also)
		if err != nil {
			l.fail(l.contextualize(ruleAt, ErrCompileCondition, err))
			return nil
		}
		tree = &ast.And{Pos: other.Position(), Children: []ast.Expr{other, tree}}
	}
	excs, err := l.exceptionsTree(info)
	if err != nil {
		l.fail(l.contextualize(ruleAt, ErrCompileCondition, err))
		return nil
	}
	if len(excs) > 0 {
		tree = &ast.And{Pos: tree.Position(), Children: append([]ast.Expr{tree}, excs...)}
	}
	if tree, err = l.resolve(tree, 0); err != nil {
		l.fail(l.contextualize(ruleAt, ErrCompileCondition, err))
		return nil
	}
	if treeSize(tree, maxTreeNodes) > maxTreeNodes {
		l.fail(ruleAt.errorf(ErrCompileCondition, "%scondition has more than %d nodes once macros and lists are expanded", what, maxTreeNodes))
		return nil
	}
	_, unknownTypes := eventTypes(tree)
	untraced := untracedTypes(tree)
	tree, k := prune(tree)
	switch k {
	case constFalse:
		reason := "condition matches no event type"
		if len(unknownTypes) > 0 {
			reason = "only event types vigil does not trace: " + strings.Join(unknownTypes, ", ")
		}
		l.skip(info, ruleAt, WarnUnknownFilter, what+reason)
		return nil
	case constTrue:
		return &prepared{info: info, types: event.AllTypes(), filters: ruleClauses(nil)}
	}
	if unknown, pos := unknownFields(tree); len(unknown) > 0 {
		fieldAt := ruleAt
		if f, p, ok := l.locate(pos); ok {
			fieldAt = ruleAt.withPos(f, "condition expression", "", p)
		}
		what := what + "unknown field"
		if len(unknown) > 1 {
			what += "s"
		}
		l.skip(info, fieldAt, WarnUnknownFilter, what+" "+strings.Join(unknown, ", "))
		return nil
	}
	if len(untraced) > 0 {
		info.file.res.RulesPartial = append(info.file.res.RulesPartial, SkippedRule{Name: info.name,
			Reason: what + "branches on event types vigil does not trace never fire: " + strings.Join(untraced, ", "),
			Pos:    ruleAt.locs[len(ruleAt.locs)-1].Position})
	}
	types, _ := eventTypes(tree)
	return &prepared{info: info, tree: tree, types: types, filters: ruleClauses(tree)}
}

// compileRule compiles a prepared rule's condition and output, or returns
// nil on errors (recorded in the result).
func (l *loader) compileRule(cc *compiler, pr *prepared) *Rule {
	info, ruleAt := pr.info, pr.info.at
	p := pred(func(*evalCtx) bool { return true })
	var seq *sequence
	if pr.steps != nil {
		var err error
		if seq, err = l.compileSequence(cc, pr); err != nil {
			l.fail(l.contextualize(ruleAt, ErrCompileCondition, err))
			return nil
		}
	} else if pr.tree != nil {
		var err error
		if p, err = cc.compile(pr.tree); err != nil {
			l.fail(l.contextualize(ruleAt, ErrCompileCondition, err))
			return nil
		}
	}
	out, unknownOut, err := parseTemplate(info.output.text)
	if err != nil {
		var oerr *outputError
		outAt := ruleAt
		if errors.As(err, &oerr) {
			f, pos := info.output.locate(oerr.off)
			outAt = ruleAt.withPos(f, "rule output", "", pos)
		}
		l.fail(outAt.errorf(ErrCompileOutput, "%s", err.Error()))
		return nil
	}
	if len(unknownOut) > 0 {
		f, pos := info.output.locate(0)
		l.warn(ruleAt.withPos(f, "rule output", "", pos), WarnUnknownFilter,
			"output fields vigil does not provide render as <NA>: "+strings.Join(unknownOut, ", "))
	}
	if info.warnEvttypes && pr.types == event.AllTypes() {
		l.warn(ruleAt, WarnNoEvtType, "Rule matches too many evt.type values. This has a significant performance penalty.")
	}
	cond := ""
	if info.cond != nil {
		cond = info.cond.text
	}
	r := &Rule{
		Name:      info.name,
		Desc:      info.desc,
		Priority:  info.priority,
		Tags:      info.tags,
		Source:    info.source,
		Enabled:   info.enabled,
		Condition: cond,
		Output:    info.output.text,
		Pos:       ruleAt.locs[len(ruleAt.locs)-1].Position,
		types:     pr.types,
		filters:   pr.filters,
		hostNames: appendHostNames(nil, pr.tree),
		idPaths:   appendIdentityPaths(nil, pr.tree),
		ports:     appendSendRecvPorts(nil, pr.tree),
		pred:      p,
		out:       out,
		seq:       seq,
		state:     -1,
	}
	if t := info.threshold; t != nil {
		r.threshold = &threshold{count: uint32(t.count), window: int64(t.window), windowText: t.windowText, by: t.by}
	}
	if seq != nil {
		r.stepFields = stepFieldNames(len(seq.steps), out)
	}
	return r
}
