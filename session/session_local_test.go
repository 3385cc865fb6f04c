package session_test

import (
	"path/filepath"
	"testing"

	"github.com/execkit/execkit/session/sessiontest"
	"github.com/execkit/execkit/target"
	"github.com/execkit/execkit/target/targettest"
)

// openLocal opens a local session through the opener, closed when the
// test ends.
var openLocal = targettest.Factory(targettest.Local, target.SSHSettings{})

func tempDir(t *testing.T) string {
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLocalBash(t *testing.T) {
	t.Parallel()
	sessiontest.Run(t, openLocal, sessiontest.Options{Shell: "bash", TTY: true, TempDir: tempDir(t)})
}

func TestLocalSh(t *testing.T) {
	t.Parallel()
	sessiontest.Run(t, openLocal, sessiontest.Options{Shell: "sh", TTY: true, TempDir: tempDir(t)})
}
