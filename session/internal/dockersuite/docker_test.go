package dockersuite

import (
	"strings"
	"testing"
	"time"

	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/session/sessiontest"
	"github.com/execkit/execkit/target"
	"github.com/execkit/execkit/target/targettest"
	"github.com/execkit/execkit/transport/docker/dockertest"
)

// dockerFactory opens sessions in one test container, through the opener.
func dockerFactory(t *testing.T) (sessiontest.Factory, string) {
	name := dockertest.Container(t)
	return targettest.Factory(t, targettest.Docker(name), target.SSHSettings{}), name
}

func TestDockerBash(t *testing.T) {
	t.Parallel()
	open, _ := dockerFactory(t)
	sessiontest.Run(t, open, sessiontest.Options{Shell: "bash", TTY: true, TempDir: "/tmp"})
}

// TestDockerTimeoutNoSurvivors checks with `docker top`, from outside the
// container, that a timed-out command leaves no process behind, and that
// closing the session leaves only the container's own.
func TestDockerTimeoutNoSurvivors(t *testing.T) {
	t.Parallel()
	open, name := dockerFactory(t)
	s := open(t, session.Options{})
	sessiontest.Exec(t, s, "cd /tmp; export EK_T=kept", session.ExecOptions{})
	for _, cmd := range []string{"sleep 1001", "sleep 1002 | sleep 1003 | cat", "(sleep 1004; echo never)", "sleep 1005 & sleep 1006"} {
		r := sessiontest.Exec(t, s, cmd, session.ExecOptions{Timeout: time.Second})
		if !r.TimedOut {
			t.Errorf("%q: not timed out after %v", cmd, r.Duration)
		}
		after := sessiontest.Exec(t, s, `echo "$PWD $EK_T"`, session.ExecOptions{})
		if after.Stdout != "/tmp kept\n" {
			t.Errorf("after %q: %q", cmd, after.Stdout)
		}
	}
	var left []string
	for i := 0; i < 50; i++ {
		left = left[:0]
		for _, c := range dockertest.Top(t, name) {
			if strings.Contains(c, "sleep 10") {
				left = append(left, c)
			}
		}
		if len(left) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("docker top shows survivors: %q", left)
	}
	s.Close()
	for _, c := range dockertest.Top(t, name) {
		if strings.Contains(c, "bash") || strings.Contains(c, "execkit") {
			t.Errorf("after Close, docker top shows %q", c)
		}
	}
}
