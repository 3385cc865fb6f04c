package session_test

import (
	"path/filepath"
	"testing"

	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/session/sessiontest"
	"github.com/execkit/execkit/target"
	"github.com/execkit/execkit/target/targettest"
)

// openLocal opens local sessions through the opener, each closed when its
// test ends.
func openLocal(t *testing.T, opts session.Options) *session.Session {
	return targettest.Factory(t, targettest.Local, target.SSHSettings{})(t, opts)
}

func tempDir(t *testing.T) string {
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// localSuite runs the session behaviour suite for shell on sessions
// open opens on this machine.
func localSuite(t *testing.T, open sessiontest.Factory, shell string) {
	t.Parallel()
	sessiontest.Run(t, open, sessiontest.Options{Shell: shell, TTY: true, TempDir: tempDir(t), Contained: true})
}

func TestLocalBash(t *testing.T) { localSuite(t, openLocal, "bash") }

func TestLocalSh(t *testing.T) { localSuite(t, openLocal, "sh") }
