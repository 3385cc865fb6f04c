// Package sshsuite runs the session behaviour suite (session/sessiontest) over SSH, against a real sshd.
// It holds only tests; it is a package of its own so that go test runs it
// in parallel with the other suites.
package sshsuite
