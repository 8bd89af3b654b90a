package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/vigil-sensor/vigil/event"
)

// fieldsCmd prints every field rules and output can use, from the field table.
func fieldsCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fields", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("fields takes no arguments")}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tTYPE\tEVENTS\tDESCRIPTION")
	for _, f := range event.Fields() {
		name := f.Name
		switch f.Arg {
		case event.ArgIndex:
			name += "[N]"
		case event.ArgKey:
			name += "[KEY]"
		}
		kinds := "all"
		if len(f.Kinds) > 0 {
			names := make([]string, len(f.Kinds))
			for i, k := range f.Kinds {
				names[i] = k.String()
			}
			kinds = strings.Join(names, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, f.Type, kinds, f.Desc)
	}
	return tw.Flush()
}
