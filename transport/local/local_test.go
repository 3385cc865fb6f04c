//go:build !windows

package local_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/execkit/execkit/internal/execfence"
	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/transport/local"
	"github.com/execkit/execkit/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, local.New(), transporttest.Options{TTY: true})
}

// fenced starts every process with an exec fence that lets everything run
// and counts the starts it saw.
type fenced struct {
	local.Transport
	mu    sync.Mutex
	seen  int
	check func(*transport.ExecStart) error
}

func (f *fenced) Start(ctx context.Context, opts transport.StartOptions) (transport.Process, error) {
	opts.ExecCheck = func(e *transport.ExecStart) error {
		f.mu.Lock()
		f.seen++
		f.mu.Unlock()
		if f.check != nil {
			return f.check(e)
		}
		return nil
	}
	return f.Transport.Start(ctx, opts)
}

// TestConformanceFenced: the transport contract holds with the exec fence
// on, and the fence saw the programs started.
func TestConformanceFenced(t *testing.T) {
	if !execfence.Built {
		t.Skip("no exec fence on this platform")
	}
	f := &fenced{}
	transporttest.Run(t, f, transporttest.Options{TTY: true})
	if f.seen < 10 {
		t.Errorf("the fence saw %d program starts", f.seen)
	}
}

// TestFenceRefusesStart: a refused start fails with EACCES in the shell,
// which goes on; the canary is intact.
func TestFenceRefusesStart(t *testing.T) {
	if !execfence.Built {
		t.Skip("no exec fence on this platform")
	}
	dir := t.TempDir()
	canary := filepath.Join(dir, "canary")
	os.WriteFile(canary, nil, 0o600)
	var mu sync.Mutex
	var refused []string
	f := &fenced{check: func(e *transport.ExecStart) error {
		// The shell tries each directory of PATH: only the real file counts.
		if _, err := os.Stat(e.File); err == nil && filepath.Base(e.Resolved) == "rm" {
			mu.Lock()
			defer mu.Unlock()
			refused = append(refused, e.Line())
			return errors.New("rm is denied")
		}
		return nil
	}}
	p, err := f.Start(context.Background(), transport.StartOptions{Dir: dir,
		Argv: []string{"sh", "-c", `printf 'rm canary\n' > s.sh; sh s.sh; echo "status $?"; env rm -f canary; echo "env $?"`}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out, _ := io.ReadAll(p.Stdout())
	errb, _ := io.ReadAll(p.Stderr())
	<-p.Done()
	if _, err := os.Stat(canary); err != nil {
		t.Fatalf("the canary is gone: %s %s", out, errb)
	}
	if string(out) != "status 126\nenv 126\n" || !strings.Contains(string(errb), "Permission denied") {
		t.Errorf("stdout %q stderr %q", out, errb)
	}
	mu.Lock()
	defer mu.Unlock()
	// One line per PATH directory holding rm (/bin and /usr/bin may be one).
	if refused = slices.Compact(refused); len(refused) != 2 || refused[0] != "rm canary" || refused[1] != "rm -f canary" {
		t.Errorf("refused %q", refused)
	}
}
