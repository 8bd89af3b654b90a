// Package testutil holds vigil's test requirements: helpers that skip a test
// only where this machine truly lacks a privilege or kernel feature, and that
// turn such a skip into a failure in CI (CI=true), where every tier must run.
// It also holds the few helpers that the sensor's tests and the agent's
// tests both need, such as running a program the way fileless malware does
// (Fexecve, ExecMemfd).
package testutil
