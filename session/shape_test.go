package session_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/session"
)

func TestOutputSanitizedByDefault(t *testing.T) {
	s := openLocal(t, session.Options{})
	r, _ := s.Exec(context.Background(), `printf '\033[31mred\033[0m \033]0;title\007ok\r\n10%%\r100%%\n\001'`, session.ExecOptions{})
	if r.Stdout != "red ok\n100%\n" {
		t.Errorf("sanitized stdout %q", r.Stdout)
	}
	raw := openLocal(t, session.Options{Raw: true})
	r, _ = raw.Exec(context.Background(), `printf '\033[31mred\033[0m'`, session.ExecOptions{})
	if r.Stdout != "\x1b[31mred\x1b[0m" {
		t.Errorf("raw stdout %q", r.Stdout)
	}
}

func TestBudgetShapesOutput(t *testing.T) {
	s := openLocal(t, session.Options{Budget: safety.Budget{Mode: "tail", Lines: 3}})
	ctx := context.Background()
	r, err := s.Exec(ctx, "seq 1 1000; seq 1 10 >&2; exit 3", session.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != 3 || !strings.HasSuffix(r.Stdout, "998\n999\n1000\n") || !strings.HasPrefix(r.Stdout, "[… 997 lines omitted …]") {
		t.Errorf("tail budget: code %d stdout %q", r.ExitCode, r.Stdout)
	}
	si := r.StdoutInfo
	if si.Mode != "tail" || si.LinesTotal != 1000 || si.LinesKept != 3 || si.BudgetDropped == 0 || !r.Truncated {
		t.Errorf("stdout info %+v", si)
	}
	if r.StderrInfo.LinesTotal != 10 || r.StderrInfo.LinesKept != 3 {
		t.Errorf("stderr info %+v", r.StderrInfo)
	}
	g, _ := s.Exec(ctx, "seq 1 100", session.ExecOptions{Budget: &safety.Budget{Mode: "grep", Grep: `^7\d$`}})
	if g.StdoutInfo.LinesKept != 10 || !strings.Contains(g.Stdout, "70\n71\n") {
		t.Errorf("grep override: %+v %q", g.StdoutInfo, g.Stdout)
	}
	if _, err := s.Exec(ctx, "true", session.ExecOptions{Budget: &safety.Budget{Mode: "sideways"}}); !errors.Is(err, session.ErrInvalidOptions) {
		t.Errorf("bad budget: %v", err)
	}
	if _, err := session.New(ctx, nil, session.Options{Budget: safety.Budget{Mode: "grep"}}); !errors.Is(err, session.ErrInvalidOptions) {
		t.Errorf("bad session budget: %v", err)
	}
}

// TestSlowSecretRedacted: a credential printed in pieces, with pauses, is
// still caught.
func TestSlowSecretRedacted(t *testing.T) {
	s := openLocal(t, session.Options{})
	r, _ := s.Exec(context.Background(), `printf 'key AKIA'; sleep .2; printf 'ABCDEFGH'; sleep .2; printf 'IJKLMNOP done\n'`, session.ExecOptions{})
	if r.Stdout != "key [REDACTED:aws-access-key-id] done\n" {
		t.Errorf("slow secret: %q", r.Stdout)
	}
}

// TestSecretSplitByEscapes: colour codes inside a credential do not hide it.
func TestSecretSplitByEscapes(t *testing.T) {
	s := openLocal(t, session.Options{})
	r, _ := s.Exec(context.Background(), `printf 'key \033[1mAKIA\033[0mABCDEFGH\033[32mIJKLMNOP\033[0m done\n'`, session.ExecOptions{})
	if r.Stdout != "key [REDACTED:aws-access-key-id] done\n" {
		t.Errorf("escape-split secret: %q", r.Stdout)
	}
}

// TestOutputStreams: ExecOptions.Output gets the output while the command
// runs (the command here waits for a file the callback makes when it sees
// the first line), redacted and sanitised as the result, with the size
// limit's cut bytes too.
func TestOutputStreams(t *testing.T) {
	s := openLocal(t, session.Options{MaxOutputBytes: 64})
	flag := t.TempDir() + "/seen"
	var mu sync.Mutex
	got := map[string]*strings.Builder{"stdout": {}, "stderr": {}}
	made := false
	out := func(stream string, p []byte) {
		mu.Lock()
		defer mu.Unlock()
		got[stream].Write(p)
		if !made && strings.Contains(got["stdout"].String(), "first\n") {
			made = true
			os.WriteFile(flag, nil, 0o600)
		}
	}
	cmd := `echo first; i=0; while [ ! -e ` + flag + ` ] && [ $i -lt 2000 ]; do sleep 0.01; i=$((i+1)); done; ` +
		`[ -e ` + flag + ` ] && echo streamed; printf 'key AKIA'; sleep .1; printf 'ABCDEFGHIJKLMNOP\n'; printf '\033[31mred\033[0m\n' >&2; seq 1 100`
	r, err := s.Exec(context.Background(), cmd, session.ExecOptions{Output: out, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	so, se := got["stdout"].String(), got["stderr"].String()
	if !strings.Contains(so, "first\nstreamed\nkey [REDACTED:aws-access-key-id]\n1\n") || !strings.HasSuffix(so, "100\n") || strings.Contains(so, "AKIAABCD") {
		t.Errorf("streamed stdout %q", so)
	}
	if se != "red\n" || r.Stderr != "red\n" {
		t.Errorf("streamed stderr %q, result %q", se, r.Stderr)
	}
	if !r.Truncated || len(so) <= len(r.Stdout) {
		t.Errorf("the callback should see what the limit cuts: %d streamed, %d kept", len(so), len(r.Stdout))
	}
}
