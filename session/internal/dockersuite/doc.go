// Package dockersuite runs the session behaviour suite (session/sessiontest) in Docker, against a real engine.
// It holds only tests; it is a package of its own so that go test runs it
// in parallel with the other suites.
package dockersuite
