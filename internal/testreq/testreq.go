// Package testreq decides what a test does when a real peer it needs (sshd,
// a Docker engine) is missing: skip with the reason, or fail when the
// environment variable EXECKIT_TEST_REQUIRE names the peer (CI sets
// EXECKIT_TEST_REQUIRE=sshd,docker,chromium,python,inspector so that nothing is skipped there).
package testreq

import (
	"os"
	"strings"
	"testing"
)

// Required reports whether EXECKIT_TEST_REQUIRE names peer.
func Required(peer string) bool {
	for _, p := range strings.Split(os.Getenv("EXECKIT_TEST_REQUIRE"), ",") {
		if strings.TrimSpace(p) == peer {
			return true
		}
	}
	return false
}

// Missing ends the test because peer is unavailable for the given reason:
// a failure when the peer is required, a skip otherwise.
func Missing(t testing.TB, peer, reason string) {
	t.Helper()
	if Required(peer) {
		t.Fatalf("%s is required (EXECKIT_TEST_REQUIRE) but unavailable: %s", peer, reason)
	}
	t.Skipf("%s unavailable: %s (set EXECKIT_TEST_REQUIRE=%s to make this a failure)", peer, reason, peer)
}
