package undosuite

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/session/sessiontest"
	"github.com/execkit/execkit/target"
	"github.com/execkit/execkit/target/targettest"
	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/transport/docker/dockertest"
	"github.com/execkit/execkit/transport/ssh/sshtest"
	"github.com/execkit/execkit/undo"
)

func runner(tr transport.Transport) undo.Runner { return transport.ScriptRunner(tr) }

// listing describes the workspace through the target's own tools: every
// file outside .git and node_modules with its mode and content hash, or
// its link target.
const listing = `cd "$1" && find . \( -name .git -o -name node_modules \) -prune -o \( -type f -o -type l \) -print | LC_ALL=C sort |
while IFS= read -r f; do
	if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else echo "$f $(stat -c %a "$f") $(cksum <"$f")"; fi
done`

// exercise opens a session with checkpoints of workspace ws at e through
// the opener, runs commands that change files, then restores each
// checkpoint and compares the workspace as the target lists it. It
// returns the session's transport.
func exercise(t *testing.T, e journal.Endpoint, set target.SSHSettings, ws, cpDir string) transport.Transport {
	ctx := context.Background()
	o := targettest.Open(t, journal.SessionSpec{Endpoint: e, Dir: ws, Workspace: ws, CheckpointDir: cpDir}, &target.Env{SSH: set})
	s := o.Session
	list := func() string {
		r := sessiontest.Exec(t, s, "sh -c '"+strings.ReplaceAll(listing, "'", `'\''`)+"' sh "+ws, session.ExecOptions{})
		return r.Stdout
	}
	user := func() string {
		return sessiontest.Exec(t, s, "cat .git/HEAD node_modules/dep.js", session.ExecOptions{}).Stdout
	}
	sessiontest.Exec(t, s, "mkdir -p .git node_modules && echo 'ref: main' > .git/HEAD && echo dep > node_modules/dep.js", session.ExecOptions{})
	steps := []string{
		"echo one > a.txt && echo two > b.txt",
		"mkdir -p sub/deep && echo three > sub/deep/c.txt && ln -s a.txt link",
		"chmod +x b.txt && echo changed > a.txt",
		"rm b.txt && mv sub/deep/c.txt moved.txt && ln -sf moved.txt link",
		"rm -r sub && printf 'x\\ny' > 'name with spaces'",
	}
	type state struct{ cp, listing string }
	var states []state
	for _, cmd := range steps {
		before := list()
		r := sessiontest.Exec(t, s, cmd, session.ExecOptions{})
		if r.Checkpoint == "" {
			t.Fatalf("%q took no checkpoint", cmd)
		}
		states = append(states, state{r.Checkpoint, before})
	}
	if r := sessiontest.Exec(t, s, "cat a.txt", session.ExecOptions{}); r.Checkpoint != "" {
		t.Errorf("a read-only command took a checkpoint")
	}
	for _, i := range []int{2, 0, 4, 1, 3} {
		sessiontest.Exec(t, s, "echo untouched-by-restore > node_modules/dep.js", session.ExecOptions{})
		keep, was := user(), list()
		res, err := s.Restore(ctx, states[i].cp, "restore", false)
		if err != nil {
			t.Fatalf("restore %d: %v", i, err)
		}
		if got := list(); got != states[i].listing {
			t.Fatalf("restore %d (%v): workspace\n%s\nwant\n%s", i, res.Changes, got, states[i].listing)
		}
		if user() != keep {
			t.Fatalf("restore %d touched excluded paths", i)
		}
		// The restore took a checkpoint of what it replaced: undo it.
		if _, err := s.Restore(ctx, res.Checkpoint, "undo the restore", false); err != nil {
			t.Fatal(err)
		}
		if got := list(); got != was {
			t.Fatalf("undoing restore %d: workspace\n%s\nwant\n%s", i, got, was)
		}
	}
	return o.Transport()
}

func TestUndoLocal(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	exercise(t, targettest.Local, target.SSHSettings{}, ws, t.TempDir()+"/cp")
}

func TestUndoSSH(t *testing.T) {
	t.Parallel()
	srv := sshtest.Start(t, sshtest.Options{})
	e, set := targettest.SSH(t, srv)
	ws := t.TempDir()
	tr := exercise(t, e, set, ws, t.TempDir()+"/cp")
	noGit(t, tr, ws)
}

func TestUndoDocker(t *testing.T) {
	t.Parallel()
	name := dockertest.Container(t)
	ctx := context.Background()
	e := targettest.Docker(name)
	prep := targettest.Open(t, journal.SessionSpec{Endpoint: e}, nil)
	if _, _, code, err := transport.Run(ctx, prep.Transport(), []string{"mkdir", "-p", "/work/ws"}, nil); err != nil || code != 0 {
		t.Fatal(code, err)
	}
	tr := exercise(t, e, target.SSHSettings{}, "/work/ws", "")
	store, err := undo.OpenRemote(ctx, runner(tr), undo.Options{Workspace: "/work/ws"})
	if err != nil {
		t.Fatal(err)
	}
	if d := store.Info().Dir; !strings.HasPrefix(d, "/root/.local/state/execkit/checkpoints/ws-") {
		t.Errorf("default checkpoint repository in the container: %q", d)
	}
	noGit(t, tr, "/work/ws")
}

// noGit: on a target without git, opening a remote store fails clearly.
func noGit(t *testing.T, tr transport.Transport, ws string) {
	hide := func(ctx context.Context, script string) ([]byte, []byte, int, error) {
		return runner(tr)(ctx, "PATH=/nonexistent; "+script)
	}
	_, err := undo.OpenRemote(context.Background(), hide, undo.Options{Workspace: ws})
	if !errors.Is(err, undo.ErrNoGit) || !strings.Contains(err.Error(), "install git") {
		t.Errorf("target without git: %v", err)
	}
}
