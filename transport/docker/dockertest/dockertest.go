// Package dockertest gives tests a real Docker engine: it checks that one
// answers (skipping, or failing when EXECKIT_TEST_REQUIRE names docker),
// builds the small local test image with mkimage.sh and `docker import` (no
// registry is reachable), and starts containers that are removed when the
// test ends.
package dockertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/execkit/execkit/internal/testreq"
)

// Client returns an engine client, or ends the test when no engine answers.
func Client(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		testreq.Missing(t, "docker", err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		cli.Close()
		testreq.Missing(t, "docker", "no engine answers at "+cli.DaemonHost()+" (`make deps` starts dockerd as root): "+err.Error())
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

var build struct {
	sync.Mutex
	tag string
}

// Image returns the tag of the test image, building it on first use. The
// tag carries a hash of mkimage.sh, so a changed script builds a new image.
func Image(t testing.TB) string {
	t.Helper()
	cli := Client(t)
	build.Lock()
	defer build.Unlock()
	if build.tag != "" {
		return build.tag
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "mkimage.sh")
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	tag := "execkit-test:" + hex.EncodeToString(sum[:6])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := cli.ImageInspect(ctx, tag); err != nil {
		out, err := exec.CommandContext(ctx, "sh", script, tag).CombinedOutput()
		if err != nil {
			testreq.Missing(t, "docker", "building the test image failed: "+err.Error()+": "+strings.TrimSpace(string(out)))
		}
	}
	build.tag = tag
	return tag
}

// Container starts a container from the test image, idle, and returns its
// name; it is removed when the test ends.
func Container(t testing.TB) string {
	t.Helper()
	img := Image(t)
	cli := Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{
		Image: img, Cmd: []string{"sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"},
		Labels: map[string]string{"io.execkit.test": "1"},
	}, HostConfig: &container.HostConfig{Init: boolPtr(true)}})
	if err != nil {
		t.Fatalf("create test container: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cli.ContainerRemove(ctx, resp.ID, client.ContainerRemoveOptions{Force: true})
	})
	if _, err := cli.ContainerStart(ctx, resp.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start test container: %v", err)
	}
	info, err := cli.ContainerInspect(ctx, resp.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(info.Container.Name, "/")
}

func boolPtr(b bool) *bool { return &b }

// Top lists the command lines of the processes running in a container, as
// `docker top` shows them.
func Top(t testing.TB, name string) []string {
	t.Helper()
	cli := Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	top, err := cli.ContainerTop(ctx, name, client.ContainerTopOptions{})
	if err != nil {
		t.Fatalf("docker top %s: %v", name, err)
	}
	col := len(top.Titles) - 1
	for i, title := range top.Titles {
		if title == "CMD" || title == "COMMAND" {
			col = i
		}
	}
	var out []string
	for _, p := range top.Processes {
		if col < len(p) {
			out = append(out, p[col])
		}
	}
	return out
}
