// Package dedup writes identical alerts once per window and accounts for
// every one it holds back: when a window closes (or its group is evicted
// to make room, or vigil stops), one internal record says how many
// identical alerts were suppressed, so that the alerts written plus the
// suppressed counts of those records add up to the rule's matches.
//
// Two alerts are identical when they come from the same rule and agree on
// the chosen fields: by default the rule's output fields without the ones
// that differ on every event (times and evt.num), or a list the
// configuration names, globally or per rule. Windows are timed by an
// injected clock, so the window logic is tested without sleeping.
package dedup
