//go:build integration

package sshsuite

import (
	"testing"

	"github.com/execkit/execkit/session/sessiontest"
	"github.com/execkit/execkit/transport/ssh/sshtest"
)

// TestSSHSh runs the suite in sh over SSH. The sh dialect of the frame is
// tested on every run on this machine (session.TestLocalSh); over SSH it
// runs in the integration tier.
func TestSSHSh(t *testing.T) {
	t.Parallel()
	srv := sshtest.Start(t, sshtest.Options{})
	open := sshFactory(t, srv)
	sessiontest.Run(t, open, sessiontest.Options{Shell: "sh", TTY: true, TempDir: tempDir(t)})
}
