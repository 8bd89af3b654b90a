package event

// fieldTable is the single list of fields vigil provides, built from one
// function per field class.
func fieldTable() []Field {
	var t []Field
	t = append(t, evtFields()...)
	t = append(t, procFields()...)
	t = append(t, execFactFields()...)
	t = append(t, privFields()...)
	t = append(t, userFields()...)
	t = append(t, fdFields()...)
	t = append(t, containerFields()...)
	t = append(t, mountFields()...)
	t = append(t, fsopFields()...)
	t = append(t, hostNameFields()...)
	t = append(t, sendRecvFields()...)
	t = append(t, ioURingFields()...)
	return t
}

// Extractor shorthands: most fields read one member and have no argument.

func str(name, desc string, fn func(e *Event) (string, bool)) Field {
	return Field{Name: name, Type: FieldString, Desc: desc, Str: func(e *Event, _ Arg) (string, bool) { return fn(e) }}
}

func num(name string, typ FieldType, desc string, fn func(e *Event) (int64, bool)) Field {
	return Field{Name: name, Type: typ, Desc: desc, Num: func(e *Event, _ Arg) (int64, bool) { return fn(e) }}
}

// scoped marks f as a function of the event's process and container alone
// (Field.ProcScoped).
func scoped(f Field) Field {
	f.ProcScoped = true
	return f
}

func boolean(name, desc string, fn func(e *Event) (bool, bool)) Field {
	return Field{Name: name, Type: FieldBool, Desc: desc, Num: func(e *Event, _ Arg) (int64, bool) {
		v, ok := fn(e)
		if v {
			return 1, ok
		}
		return 0, ok
	}}
}

// only restricts a field to event kinds, for `vigil fields` and rule checks.
func only(f Field, kinds ...Kind) Field {
	f.Kinds = kinds
	return f
}

func nonEmpty(s string) (string, bool) { return s, s != "" }

// alias marks f as carrying a value another field already carries.
func alias(f Field) Field {
	f.Alias = true
	return f
}
