// Package ast is the syntax of Falco rule conditions: a small AST with a
// canonical String form and structural equality, and a recursive-descent
// parser that produces it (its grammar is in the Parse doc comment).
//
// The package knows nothing of fields, macros or lists: it only turns text
// into trees. Resolving identifiers and binding fields are separate passes
// in package rules. Trees are immutable once built; passes that rewrite a
// tree build new nodes and may share unchanged subtrees.
package ast
