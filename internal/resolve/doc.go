// Package resolve keeps the host names that loaded rules compare the
// fd.*ip.name fields with resolved into an event.HostNames table, as Falco
// does: every name at load, then again periodically, off the event path,
// so that matching an event is a map lookup of its address.
package resolve
