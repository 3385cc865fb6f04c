package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	xssh "golang.org/x/crypto/ssh"

	"github.com/execkit/execkit/internal/testreq"
	"github.com/execkit/execkit/transport/docker/dockertest"
	"github.com/execkit/execkit/transport/ssh/sshtest"
)

// TestPythonSDK runs the Python SDK's own tests (python/tests, unittest)
// against this binary: locally, over SSH to a test sshd, and in a Docker
// container.
func TestPythonSDK(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		testreq.Missing(t, "python", "python3 is not installed")
	}
	root, _ := filepath.Abs("../../python")
	run := func(t *testing.T, module string, env ...string) {
		t.Helper()
		cmd := exec.Command(py, "-m", "unittest", "-v", module)
		cmd.Dir = filepath.Join(root, "tests")
		cmd.Env = append(os.Environ(), "EXECKIT_BIN="+os.Args[0], "EXECKIT_RUN_MAIN=1", "PYTHONPATH="+root,
			"PYTHONDONTWRITEBYTECODE=1", "XDG_STATE_HOME="+t.TempDir())
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python -m unittest %s: %v\n%s", module, err, out)
		}
		// Every test ran: a live test skips only when its peer was not given.
		if len(env) > 0 && strings.Contains(string(out), "skipped") {
			t.Errorf("a test was skipped although its peer is here:\n%s", out)
		}
		t.Logf("%s", out)
	}
	t.Run("local", func(t *testing.T) { run(t, "test_local") })
	t.Run("ssh", func(t *testing.T) {
		srv := sshtest.Start(t, sshtest.Options{KeyTypes: []string{"ed25519"}})
		var fp string
		for _, k := range srv.HostKeys {
			fp = xssh.FingerprintSHA256(k)
		}
		run(t, "test_ssh", "EXECKIT_TEST_SSH_HOST="+srv.Host, "EXECKIT_TEST_SSH_PORT="+strconv.Itoa(srv.Port),
			"EXECKIT_TEST_SSH_USER="+srv.User, "EXECKIT_TEST_SSH_KEY="+srv.Identity,
			"EXECKIT_TEST_SSH_KNOWN_HOSTS="+srv.WriteKnownHosts(t), "EXECKIT_TEST_SSH_FINGERPRINT="+fp)
	})
	t.Run("docker", func(t *testing.T) {
		run(t, "test_docker", "EXECKIT_TEST_CONTAINER="+dockertest.Container(t))
	})
}
