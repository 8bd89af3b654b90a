package rules

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// file is a rules file being loaded: its text, split for position lookups,
// and the result its messages go to.
type file struct {
	name string
	data string
	// lineStarts[i] is the byte offset where line i+1 starts.
	lineStarts []int
	res        *FileResult
}

func newFile(name string, data []byte) *file {
	f := &file{name: name, data: string(data), res: &FileResult{Name: name, Successful: true,
		Errors: []Message{}, Warnings: []Message{}, RulesLoaded: []string{}, RulesSkipped: []SkippedRule{}}}
	f.lineStarts = append(f.lineStarts, 0)
	for i := 0; i < len(f.data); i++ {
		if f.data[i] == '\n' {
			f.lineStarts = append(f.lineStarts, i+1)
		}
	}
	return f
}

// line returns the text of 1-based line n without its line break.
func (f *file) line(n int) string {
	if n < 1 || n > len(f.lineStarts) {
		return ""
	}
	start := f.lineStarts[n-1]
	end := len(f.data)
	if n < len(f.lineStarts) {
		end = f.lineStarts[n] - 1
	}
	return strings.TrimSuffix(f.data[start:end], "\r")
}

// pos builds a Position for 1-based line and column.
func (f *file) pos(line, col int) Position {
	p := Position{Name: f.name, Line: line, Column: col}
	if line >= 1 && line <= len(f.lineStarts) {
		p.Offset = f.lineStarts[line-1] + col - 1
	}
	return p
}

// nodePos is the position of a YAML node.
func (f *file) nodePos(n *yaml.Node) Position { return f.pos(n.Line, n.Column) }

// snippet renders the line of p with a caret under its column, as Falco's
// messages do.
func (f *file) snippet(p Position) string {
	text := f.line(p.Line)
	if text == "" {
		return ""
	}
	col := p.Column - 1
	if col < 0 {
		col = 0
	}
	if col > len(text) {
		col = len(text)
	}
	pad := strings.Map(func(r rune) rune {
		if r == '\t' {
			return '\t'
		}
		return ' '
	}, text[:col])
	return text + "\n" + pad + "^\n"
}

// anchor ties an offset of a scalar's value to the file position where
// that part of the value was written.
type anchor struct {
	off, line, col int
}

// piece is a part of a text source that came from one YAML scalar.
type piece struct {
	start   int // offset of the piece in the source text
	file    *file
	anchors []anchor
}

// textSource is a condition or output text with the map back to the files
// that wrote it. Appends make texts of several pieces, possibly from
// several files.
type textSource struct {
	text   string
	pieces []piece
}

// locate maps an offset of the text to the file and position that wrote it.
func (s *textSource) locate(off int) (*file, Position) {
	i := sort.Search(len(s.pieces), func(i int) bool { return s.pieces[i].start > off }) - 1
	if i < 0 {
		i = 0
	}
	pc := s.pieces[i]
	rel := off - pc.start
	j := sort.Search(len(pc.anchors), func(j int) bool { return pc.anchors[j].off > rel }) - 1
	if j < 0 {
		j = 0
	}
	a := pc.anchors[j]
	return pc.file, pc.file.pos(a.line, a.col+rel-a.off)
}

// scalarSource makes the source of one scalar node's value.
func scalarSource(f *file, n *yaml.Node) *textSource {
	return &textSource{text: n.Value, pieces: []piece{{file: f, anchors: scalarAnchors(f, n)}}}
}

// concatSources joins a and b with sep, as Falco joins appended
// conditions, keeping both maps.
func concatSources(a, b *textSource, sep string) *textSource {
	out := &textSource{text: a.text + sep + b.text}
	out.pieces = append(out.pieces, a.pieces...)
	off := len(a.text) + len(sep)
	for _, p := range b.pieces {
		p.start += off
		out.pieces = append(out.pieces, p)
	}
	return out
}

// scalarAnchors finds where each line of a scalar's value was written in
// the file: block scalars (| and >) start on the line after the indicator,
// plain and quoted scalars at the node; YAML folds lines into spaces, so
// each written line is looked up in the value in order. Lines that cannot
// be found (escapes, comments) keep the last anchor, so positions stay on
// the right line or close to it.
func scalarAnchors(f *file, n *yaml.Node) []anchor {
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		if a := quotedAnchors(f, n); a != nil {
			return a
		}
	}
	anchors := []anchor{{off: 0, line: n.Line, col: n.Column}}
	value := n.Value
	line := n.Line
	block := n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	first := true
	if block {
		line++
		first = false
		anchors[0] = anchor{off: 0, line: line, col: 1}
	}
	cursor := 0
	for ; line <= len(f.lineStarts) && cursor < len(value); line++ {
		raw := f.line(line)
		col := 1
		if first {
			col = n.Column
			if quoted {
				col++
			}
			if col-1 > len(raw) {
				break
			}
			raw = raw[col-1:]
		}
		trimmed := strings.TrimLeft(raw, " \t")
		col += len(raw) - len(trimmed)
		trimmed = strings.TrimRight(trimmed, " \t")
		if trimmed == "" {
			first = false
			continue
		}
		// Skip the blanks YAML turned line breaks into.
		at := cursor
		for at < len(value) && (value[at] == ' ' || value[at] == '\n' || value[at] == '\t') {
			at++
		}
		k := commonPrefix(value[at:], trimmed)
		if k == 0 {
			break
		}
		if first {
			anchors[0] = anchor{off: at, line: line, col: col}
		} else {
			anchors = append(anchors, anchor{off: at, line: line, col: col})
		}
		first = false
		cursor = at + k
		if k < len(trimmed) && !strings.HasPrefix(value[cursor:], " ") && cursor < len(value) {
			// The written line and the value part ways (an escape, a
			// comment): stop before misplacing the next lines.
			if !block {
				break
			}
		}
	}
	return anchors
}

// quotedAnchors walks a quoted scalar as written and its value side by
// side, adding an anchor after every escape (a doubled quote in single
// quotes, backslash sequences in double quotes) and at every line, so
// offsets map exactly. It returns nil when the two do not line up.
func quotedAnchors(f *file, n *yaml.Node) []anchor {
	quote := byte('\'')
	if n.Style&yaml.DoubleQuotedStyle != 0 {
		quote = '"'
	}
	value := n.Value
	line, col := n.Line, n.Column+1 // just after the opening quote
	anchors := []anchor{{off: 0, line: line, col: col}}
	vi := 0
	raw := f.line(line)
	for vi < len(value) {
		ri := col - 1
		if ri >= len(raw) {
			// Line break: YAML folds it (and the next line's indent) into
			// one space, or into newlines for blank lines.
			line++
			if line > len(f.lineStarts) {
				return nil
			}
			raw = f.line(line)
			trimmed := strings.TrimLeft(raw, " \t")
			col = len(raw) - len(trimmed) + 1
			for vi < len(value) && (value[vi] == ' ' || value[vi] == '\n') {
				vi++
			}
			anchors = append(anchors, anchor{off: vi, line: line, col: col})
			continue
		}
		c := raw[ri]
		switch {
		case c == quote && quote == '\'' && ri+1 < len(raw) && raw[ri+1] == '\'':
			if value[vi] != '\'' {
				return nil
			}
			vi++
			col += 2
			anchors = append(anchors, anchor{off: vi, line: line, col: col})
		case c == quote:
			return anchors
		case c == '\\' && quote == '"':
			if ri+1 >= len(raw) {
				// An escaped line break: the value goes on without a space.
				col++
				continue
			}
			width := 2
			switch raw[ri+1] {
			case 'x':
				width = 4
			case 'u':
				width = 6
			case 'U':
				width = 10
			}
			produced := 1
			if width > 2 && ri+width <= len(raw) {
				if r, err := strconv.ParseUint(raw[ri+2:ri+width], 16, 32); err == nil {
					produced = utf8.RuneLen(rune(r))
					if produced < 0 {
						produced = 3
					}
				}
			}
			vi += produced
			col += width
			anchors = append(anchors, anchor{off: vi, line: line, col: col})
		default:
			if value[vi] != c {
				return nil
			}
			vi++
			col++
		}
	}
	return anchors
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
