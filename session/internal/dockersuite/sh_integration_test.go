//go:build integration

package dockersuite

import (
	"testing"

	"github.com/execkit/execkit/session/sessiontest"
)

// TestDockerSh runs the suite in sh in a container. The sh dialect of the
// frame is tested on every run on this machine (session.TestLocalSh); in a
// container it runs in the integration tier.
func TestDockerSh(t *testing.T) {
	t.Parallel()
	open, _ := dockerFactory(t)
	sessiontest.Run(t, open, sessiontest.Options{Shell: "sh", TTY: true, TempDir: "/tmp"})
}
