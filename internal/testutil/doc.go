// Package testutil holds vigil's test requirements: helpers that skip a test
// only where this machine truly lacks a privilege or kernel feature, and that
// turn such a skip into a failure in CI (CI=true), where every tier must run.
package testutil
