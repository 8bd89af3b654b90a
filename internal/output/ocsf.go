package output

import (
	"strconv"
	"unsafe"
)

// OCSFVersion is the OCSF schema version the OCSF lines follow.
const OCSFVersion = "1.5.0"

// fileTypeIDs and fileTypes are OCSF's file type_id and type for fd.typechar.
var (
	fileTypeIDs = map[string]string{"f": "1", "d": "2", "u": "5", "p": "6"}
	fileTypes   = map[string]string{"f": `"Regular File"`, "d": `"Folder"`, "u": `"Local Socket"`, "p": `"Named Pipe"`}
)

// executable is the OCSF file object of a process's executable.
func executable(pathField string) member {
	return object("file", leaf("path", pathField), member{key: "name", field: pathField, base: true},
		constant("type_id", "1"), constant("type", `"Regular File"`))
}

// ocsfEvidence is the evidence object of a Detection Finding: the process,
// the file, the two ends of a connection and the container, under OCSF's
// names.
var ocsfEvidence = []member{
	object("process",
		leaf("pid", "proc.pid"),
		leaf("tid", "thread.tid"),
		leaf("name", "proc.name"),
		leaf("cmd_line", "proc.cmdline"),
		leaf("working_directory", "proc.cwd"),
		executable("proc.exepath"),
		object("user", member{key: "uid", field: "user.uid", text: true}, leaf("name", "user.name")),
		object("parent_process",
			leaf("pid", "proc.ppid"),
			leaf("name", "proc.pname"),
			leaf("cmd_line", "proc.pcmdline"),
			executable("proc.pexepath"))),
	{key: "file", when: isFile, kids: []member{
		leaf("path", "fd.name"),
		member{key: "name", field: "fd.name", base: true},
		leaf("parent_folder", "fd.directory"),
		member{key: "type_id", field: "fd.typechar", enum: fileTypeIDs},
		member{key: "type", field: "fd.typechar", enum: fileTypes}}},
	object("src_endpoint", leaf("ip", "fd.cip"), leaf("port", "fd.cport")),
	object("dst_endpoint", leaf("ip", "fd.sip"), leaf("port", "fd.sport")),
	object("connection_info",
		leaf("protocol_name", "fd.l4proto"),
		member{key: "protocol_ver_id", field: "fd.typechar", enum: map[string]string{"4": "4", "6": "6"}},
		constant("direction_id", "2"),
		constant("direction", `"Outbound"`)),
	{key: "container", when: inContainer, kids: []member{
		leaf("uid", "container.full_id"),
		leaf("name", "container.name"),
		leaf("runtime", "container.type"),
		leaf("pod_uuid", "k8s.pod.uid"),
		object("image",
			leaf("name", "container.image.repository"),
			leaf("tag", "container.image.tag"),
			leaf("uid", "container.image.digest"))}},
}

// AppendOCSF appends a as an OCSF Detection Finding (class_uid 2004), with
// a newline: the rule as finding_info (title and analytic, MITRE tags as
// attacks), severity from the priority, and the event's process, file,
// connection ends and container as one evidence object. Falco's tags are
// metadata.labels; the priority, source and output_fields stay whole under
// unmapped.
func (enc *Encoder) AppendOCSF(b []byte, a *Alert) []byte {
	sev := severityOf(a.Priority)
	ms := a.Time / 1e6
	b = append(b, `{"class_uid":2004,"class_name":"Detection Finding","category_uid":2,"category_name":"Findings",`...)
	b = append(b, `"activity_id":1,"activity_name":"Create","type_uid":200401,"type_name":"Detection Finding: Create","time":`...)
	b = strconv.AppendInt(b, ms, 10)
	b = append(b, `,"severity_id":`...)
	b = strconv.AppendUint(b, uint64(sev.ocsf), 10)
	b = append(b, `,"severity":`...)
	b = AppendString(b, sev.ocsfName)
	b = append(b, `,"status_id":1,"status":"New","is_alert":true,"message":`...)
	b = AppendString(b, unsafe.String(unsafe.SliceData(a.Output), len(a.Output)))

	b = append(b, `,"metadata":{"version":"`+OCSFVersion+`","product":{"name":"vigil","vendor_name":"vigil","version":`...)
	b = AppendString(b, enc.version)
	b = append(b, '}')
	if a.Event != nil {
		b = append(b, `,"event_code":`...)
		b = AppendString(b, a.Event.Type.String())
	}
	b = append(b, `,"labels":`...)
	b = appendStrings(b, a.Tags)

	b = append(b, `},"finding_info":{"uid":`...)
	b = enc.appendAlertID(b, a)
	b = append(b, `,"title":`...)
	b = AppendString(b, a.Rule)
	b = append(b, `,"created_time":`...)
	b = strconv.AppendInt(b, ms, 10)
	b = append(b, `,"analytic":{"name":`...)
	b = AppendString(b, a.Rule)
	b = append(b, `,"type_id":1,"type":"Rule"}`...)
	b = appendAttacks(b, a.Tags)

	b = append(b, `},"device":{"hostname":`...)
	b = AppendString(b, enc.hostname)
	b = append(b, `,"type_id":0,"type":"Unknown"}`...)
	if a.Event != nil {
		mark := len(b)
		b = append(b, `,"evidences":[{`...)
		var found bool
		if b, found = appendMembers(b, enc.ocsf, a.Event, true); found {
			b = append(b, "}]"...)
		} else {
			b = b[:mark]
		}
	}
	b = append(b, `,"unmapped":{"priority":`...)
	b = AppendString(b, a.Priority)
	b = append(b, `,"source":`...)
	b = AppendString(b, a.Source)
	b = append(b, ',')
	b = appendOutputFields(b, a)
	return append(b, "}}\n"...)
}

// appendAttacks appends OCSF's finding_info.attacks from MITRE tags: one
// attack per technique (sub-techniques with their technique), carrying the
// rule's tactic when it has exactly one; with several tactics, which
// technique serves which is not said by the tags, so each tactic is an
// attack of its own.
func appendAttacks(b []byte, tags []string) []byte {
	nTactics, only := countTactics(tags)
	mark := len(b)
	b = append(b, `,"attacks":[`...)
	n := 0
	next := func(b []byte) []byte {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		return append(b, '{')
	}
	for _, t := range tags {
		tech, sub, ok := techniqueOf(t)
		if !ok {
			continue
		}
		b = next(b)
		b = append(b, `"technique":{"uid":`...)
		b = AppendString(b, tech)
		b = append(b, '}')
		if sub != "" {
			b = append(b, `,"sub_technique":{"uid":`...)
			b = AppendString(b, sub)
			b = append(b, '}')
		}
		if nTactics == 1 {
			b = append(b, ',')
			b = appendTactic(b, only)
		}
		b = append(b, '}')
	}
	if n == 0 || nTactics > 1 {
		for _, t := range tags {
			if ta, ok := tacticOf(t); ok {
				b = next(b)
				b = appendTactic(b, ta)
				b = append(b, '}')
			}
		}
	}
	if n == 0 {
		return b[:mark]
	}
	return append(b, ']')
}

func appendTactic(b []byte, t *tactic) []byte {
	b = append(b, `"tactic":{"uid":"`...)
	b = append(b, t.id...)
	b = append(b, `","name":"`...)
	b = append(b, t.name...)
	return append(b, `"}`...)
}

// appendStrings appends ss as a JSON array of strings.
func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}

// appendAlertID appends a JSON string identifying the alert, in UUID form:
// 64 bits hashed from the host and rule names, 64 from the event's time and
// sequence number. The same alert always gets the same id, so a line sent
// twice is recognised; two alerts of one event differ by rule.
func (enc *Encoder) appendAlertID(b []byte, a *Alert) []byte {
	// FNV-1a, by hand: hash/fnv's hasher would be allocated per alert. A
	// zero byte between the names keeps ("ab", "c") apart from ("a", "bc").
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(enc.hostname); i++ {
		h = (h ^ uint64(enc.hostname[i])) * prime
	}
	h *= prime // the zero byte
	for i := 0; i < len(a.Rule); i++ {
		h = (h ^ uint64(a.Rule[i])) * prime
	}
	l := uint64(a.Time)
	if a.Event != nil {
		l ^= a.Event.Num * 0x9e3779b97f4a7c15
	}
	var id [16]byte
	for i := range 8 {
		id[i] = byte(h >> (56 - 8*i))
		id[8+i] = byte(l >> (56 - 8*i))
	}
	b = append(b, '"')
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return append(b, '"')
}
