package docker_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/transport/docker"
	"github.com/execkit/execkit/transport/docker/dockertest"
	"github.com/execkit/execkit/transport/transporttest"
)

func newTransport(t *testing.T, cfg docker.Config) *docker.Transport {
	t.Helper()
	tr, err := docker.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("docker.New: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestConformance(t *testing.T) {
	name := dockertest.Container(t)
	tr := newTransport(t, docker.Config{Container: name})
	transporttest.Run(t, tr, transporttest.Options{TTY: true, Dir: "/tmp"})
}

func TestErrors(t *testing.T) {
	dockertest.Client(t)
	ctx := context.Background()
	if _, err := docker.New(ctx, docker.Config{Container: "execkit-no-such-container"}); err == nil ||
		!errors.Is(err, transport.ErrUnavailable) || !strings.Contains(err.Error(), "no container") {
		t.Errorf("missing container: %v", err)
	}
	if _, err := docker.New(ctx, docker.Config{Image: "execkit-no-such-image:0"}); err == nil || !strings.Contains(err.Error(), "no image") {
		t.Errorf("missing image: %v", err)
	}
	if _, err := docker.New(ctx, docker.Config{}); err == nil {
		t.Error("neither container nor image accepted")
	}
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	if _, err := docker.New(ctx, docker.Config{Container: "x"}); err == nil || !errors.Is(err, transport.ErrUnavailable) || !strings.Contains(err.Error(), "engine") {
		t.Errorf("engine down: %v", err)
	}
}
