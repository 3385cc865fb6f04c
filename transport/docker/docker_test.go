package docker_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

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

func TestStoppedContainerAndNoShell(t *testing.T) {
	cli := dockertest.Client(t)
	ctx := context.Background()
	name := dockertest.Container(t)
	timeout := 0
	if _, err := cli.ContainerStop(ctx, name, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if _, err := docker.New(ctx, docker.Config{Container: name}); err == nil ||
		!errors.Is(err, transport.ErrUnavailable) || !strings.Contains(err.Error(), "is exited") {
		t.Errorf("stopped container: %v", err)
	}

	// An image with no shell at all: one static file.
	img := fmt.Sprintf("execkit-test-noshell:%d", rand.Int63()) // test runs side by side each have theirs
	tarball := noShellTar(t)
	resp, err := cli.ImageImport(ctx, client.ImageImportSource{Source: tarball, SourceName: "-"}, img, client.ImageImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp)
	resp.Close()
	t.Cleanup(func() { cli.ImageRemove(context.Background(), img, client.ImageRemoveOptions{Force: true}) })
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: img, Cmd: []string{"/nothing"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cli.ContainerRemove(context.Background(), created.ID, client.ContainerRemoveOptions{Force: true})
	})
	// It cannot even start; a throwaway container of it fails clearly.
	if _, err := docker.New(ctx, docker.Config{Image: img}); err == nil || !errors.Is(err, transport.ErrNoShell) {
		t.Errorf("image without a shell: %v", err)
	}
}

// noShellTar is a root file system holding one file.
func noShellTar(t *testing.T) io.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "nothing", Mode: 0o755, Size: 2})
	tw.Write([]byte("x\n"))
	tw.Close()
	return &buf
}

// TestContainerRemovedMidSession: the shell ends, and starting a new one
// says the container is gone instead of hanging.
func TestContainerRemovedMidSession(t *testing.T) {
	cli := dockertest.Client(t)
	name := dockertest.Container(t)
	tr := newTransport(t, docker.Config{Container: name})
	ctx := context.Background()
	p, err := tr.Start(ctx, transport.StartOptions{Argv: []string{"sh", "-c", "sleep 600"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := cli.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the shell of a removed container did not end")
	}
	_, err = tr.Start(ctx, transport.StartOptions{Argv: []string{"sh"}})
	if err == nil || !errors.Is(err, transport.ErrUnavailable) {
		t.Errorf("Start in a removed container: %v", err)
	}
}
