package output

import (
	"strconv"
	"unsafe"

	"github.com/vigil-sensor/vigil/event"
)

// ECSVersion is the Elastic Common Schema version the ECS lines follow.
const ECSVersion = "8.11.0"

// ecsMembers are the members of an ECS document that come from the event.
var ecsMembers = []member{
	object("process",
		leaf("pid", "proc.pid"),
		leaf("name", "proc.name"),
		leaf("executable", "proc.exepath"),
		leaf("command_line", "proc.cmdline"),
		leaf("working_directory", "proc.cwd"),
		object("thread", leaf("id", "thread.tid")),
		object("parent",
			leaf("pid", "proc.ppid"),
			leaf("name", "proc.pname"),
			leaf("executable", "proc.pexepath"),
			leaf("command_line", "proc.pcmdline"))),
	object("user", member{key: "id", field: "user.uid", text: true}, leaf("name", "user.name")),
	object("group", member{key: "id", field: "group.gid", text: true}),
	{key: "file", when: isFile, kids: []member{
		leaf("path", "fd.name"),
		member{key: "name", field: "fd.name", base: true},
		leaf("directory", "fd.directory"),
		member{key: "type", field: "fd.typechar", enum: map[string]string{"f": `"file"`, "d": `"dir"`}}}},
	object("source", leaf("ip", "fd.cip"), leaf("port", "fd.cport")),
	object("destination", leaf("ip", "fd.sip"), leaf("port", "fd.sport")),
	object("network",
		leaf("transport", "fd.l4proto"),
		member{key: "type", field: "fd.type", enum: map[string]string{"ipv4": `"ipv4"`, "ipv6": `"ipv6"`}},
		constant("direction", `"egress"`)),
	{key: "container", when: inContainer, kids: []member{
		leaf("id", "container.full_id"),
		leaf("name", "container.name"),
		leaf("runtime", "container.type"),
		object("image",
			leaf("name", "container.image.repository"),
			member{key: "tag", field: "container.image.tag", array: true})}},
	object("orchestrator",
		constant("type", `"kubernetes"`),
		leaf("namespace", "k8s.ns.name"),
		object("resource", constant("type", `"pod"`), leaf("name", "k8s.pod.name"), leaf("id", "k8s.pod.uid"))),
}

// ecsCategories are ECS's event.category and event.type by event kind.
var ecsCategories = [event.NumKinds]string{
	event.KindExec:    `"category":["process"],"type":["start"]`,
	event.KindFork:    `"category":["process"],"type":["start"]`,
	event.KindExit:    `"category":["process"],"type":["end"]`,
	event.KindOpen:    `"category":["file"],"type":["access"]`,
	event.KindConnect: `"category":["network"],"type":["connection","start"]`,
}

// logLevels are ECS's log.level for Falco's priorities, by syslog severity.
var logLevels = [8]string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"}

// AppendECS appends a as an Elastic Common Schema document with a newline:
// event.kind "alert", rule.name, the event's process, user, file, network
// ends and container under ECS's names, MITRE tags as threat.*, and
// Falco's priority, source and output_fields under vigil.*.
func (enc *Encoder) AppendECS(b []byte, a *Alert) []byte {
	sev := severityOf(a.Priority)
	b = append(b, `{"@timestamp":`...)
	b = AppendTime(b, a.Time)
	b = append(b, `,"ecs":{"version":"`+ECSVersion+`"},"event":{"kind":"alert",`...)
	if e := a.Event; e != nil {
		if c := ecsCategories[e.Type.Kind()]; c != "" {
			b = append(b, c...)
			b = append(b, ',')
		}
		b = append(b, `"action":`...)
		b = AppendString(b, e.Type.String())
		b = append(b, `,"outcome":`...)
		if e.Res < 0 {
			b = append(b, `"failure",`...)
		} else {
			b = append(b, `"success",`...)
		}
	}
	b = append(b, `"id":`...)
	b = enc.appendAlertID(b, a)
	b = append(b, `,"severity":`...)
	b = strconv.AppendUint(b, uint64(sev.ocsf), 10)
	b = append(b, `,"module":"vigil","dataset":"vigil.alert","provider":`...)
	b = AppendString(b, a.Source)
	b = append(b, `},"rule":{"name":`...)
	b = AppendString(b, a.Rule)
	b = append(b, `},"message":`...)
	b = AppendString(b, unsafe.String(unsafe.SliceData(a.Output), len(a.Output)))
	b = append(b, `,"log":{"level":"`...)
	b = append(b, logLevels[sev.syslog]...)
	b = append(b, `"},"tags":`...)
	b = appendStrings(b, a.Tags)
	b = appendThreat(b, a.Tags)
	if a.Event != nil {
		b, _ = appendMembers(b, enc.ecs, a.Event, false)
	}
	b = append(b, `,"host":{"hostname":`...)
	b = AppendString(b, enc.hostname)
	b = append(b, `,"name":`...)
	b = AppendString(b, enc.hostname)
	b = append(b, `},"observer":{"vendor":"vigil","product":"vigil","version":`...)
	b = AppendString(b, enc.version)
	b = append(b, `},"vigil":{"priority":`...)
	b = AppendString(b, a.Priority)
	b = append(b, ',')
	b = appendOutputFields(b, a)
	return append(b, "}}\n"...)
}

// appendThreat appends ECS's threat.* from MITRE tags, or nothing when the
// rule has none. A sub-technique's technique is listed with the techniques.
func appendThreat(b []byte, tags []string) []byte {
	var tactics, subs, techs int
	for _, t := range tags {
		if _, ok := tacticOf(t); ok {
			tactics++
		}
		if _, sub, ok := techniqueOf(t); ok {
			techs++
			if sub != "" {
				subs++
			}
		}
	}
	if tactics+techs == 0 {
		return b
	}
	b = append(b, `,"threat":{"framework":"MITRE ATT&CK"`...)
	if tactics > 0 {
		b = append(b, `,"tactic":{"id":`...)
		b = appendPicked(b, tags, tacticID)
		b = append(b, `,"name":`...)
		b = appendPicked(b, tags, tacticName)
		b = append(b, '}')
	}
	if techs > 0 {
		b = append(b, `,"technique":{"id":`...)
		b = appendPicked(b, tags, techniqueID)
		if subs > 0 {
			b = append(b, `,"subtechnique":{"id":`...)
			b = appendPicked(b, tags, subTechniqueID)
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendPicked appends, as a JSON array, what pick makes of each tag that
// it takes, each value once.
func appendPicked(b []byte, tags []string, pick func(string) (string, bool)) []byte {
	b = append(b, '[')
	n := 0
	for i, t := range tags {
		v, ok := pick(t)
		if !ok || pickedBefore(tags[:i], v, pick) {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, v)
		n++
	}
	return append(b, ']')
}

func pickedBefore(tags []string, v string, pick func(string) (string, bool)) bool {
	for _, t := range tags {
		if w, ok := pick(t); ok && w == v {
			return true
		}
	}
	return false
}

func tacticID(tag string) (string, bool) {
	t, ok := tacticOf(tag)
	if !ok {
		return "", false
	}
	return t.id, true
}

func tacticName(tag string) (string, bool) {
	t, ok := tacticOf(tag)
	if !ok {
		return "", false
	}
	return t.name, true
}

func techniqueID(tag string) (string, bool) {
	tech, _, ok := techniqueOf(tag)
	return tech, ok
}

func subTechniqueID(tag string) (string, bool) {
	_, sub, ok := techniqueOf(tag)
	return sub, ok && sub != ""
}
