// Package config decodes vigil's YAML configuration file strictly: every
// key must be known, every value of the type and range its destination
// takes, and each problem is reported with the file, line and column of the
// value at fault, all of them at once, as rule files report theirs.
//
// The caller binds top-level keys to where their values go (Key); values
// decode by the destination's Go type (bools, integers, strings, durations,
// lists, string maps, structs by their yaml tags, encoding.TextUnmarshaler),
// and a type that decodes itself (Unmarshaler) gets the node, to check
// combinations of keys with positions of its own.
package config
