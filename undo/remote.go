package undo

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/execkit/execkit/internal/shquote"
)

// Runner runs a POSIX sh script on the target and returns its output and
// exit status; transport.Run fits, given argv {"sh", "-c", script}.
type Runner func(ctx context.Context, script string) (stdout, stderr []byte, code int, err error)

// RemoteStore keeps checkpoints of a directory on an SSH host or in a
// container, with git on the far side: a checkpoint repository of its own
// (GIT_DIR) over the workspace (GIT_WORK_TREE), whose index is the stat
// cache.
type RemoteStore struct {
	run     Runner
	ws, dir string
	max     int64
	exclude []string // Options.Exclude
}

// OpenRemote opens (creating it when needed) the checkpoint repository of a
// workspace on the target run reaches. It fails with ErrNoGit when git is
// not installed there.
func OpenRemote(ctx context.Context, run Runner, opts Options) (*RemoteStore, error) {
	out, _, _, err := run(ctx, `printf '%s\n' "$HOME"; command -v git || echo "-"`)
	if err != nil {
		return nil, fmt.Errorf("undo: reach the target: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	home := ""
	if len(lines) > 0 {
		home = lines[0]
	}
	if len(lines) < 2 || lines[len(lines)-1] == "-" {
		return nil, fmt.Errorf("%w (checkpoints on a remote target are kept with git there; install git on it)", ErrNoGit)
	}
	if err := checkWorkspace(opts.Workspace, home); err != nil {
		return nil, err
	}
	if err := checkExcludes(opts.Exclude); err != nil {
		return nil, err
	}
	s := &RemoteStore{run: run, ws: path.Clean(opts.Workspace), dir: opts.Dir, max: opts.MaxFileSize, exclude: append([]string(nil), opts.Exclude...)}
	if s.max <= 0 {
		s.max = DefaultMaxFileSize
	}
	if s.dir == "" {
		s.dir = `${XDG_STATE_HOME:-$HOME/.local/state}/execkit/checkpoints/` + dirName(s.ws)
	}
	// In git's exclude file a later pattern wins: the defaults, credential
	// directories among them, come after the operator's.
	var excl strings.Builder
	for _, p := range append(append([]string(nil), opts.Exclude...), DefaultExcludes...) {
		excl.WriteString(p + "\n")
	}
	script := s.env() + `
[ -d "$W" ] || { echo "workspace $W is not a directory" >&2; exit 3; }
case "$D/" in "$W"/*) echo "the checkpoint repository $D cannot be inside the workspace" >&2; exit 3;; esac
if [ ! -f "$D/HEAD" ]; then
	mkdir -p "$D" && chmod 700 "$D" && (unset GIT_DIR GIT_WORK_TREE; git init -q --bare "$D") || exit 4
	git symbolic-ref HEAD refs/heads/checkpoints
fi
mkdir -p "$D/info" && printf '%s' ` + shquote.Quote(excl.String()) + ` >"$D/info/exclude" || exit 4
printf '%s\n' "$D"
`
	out, errOut, code, err := run(ctx, script)
	if err != nil {
		return nil, fmt.Errorf("undo: %w", err)
	}
	switch code {
	case 0:
	case 3:
		return nil, fmt.Errorf("%w: %s", ErrWorkspace, strings.TrimSpace(string(errOut)))
	default:
		return nil, fmt.Errorf("undo: checkpoint repository on the target: %s", strings.TrimSpace(string(errOut)))
	}
	s.dir = strings.TrimSpace(string(out))
	return s, nil
}

// Info implements Store.
func (s *RemoteStore) Info() Info {
	return Info{Kind: "remote", Workspace: s.ws, Dir: s.dir, Exclude: s.exclude}
}

// env starts every script: where things are, and git settings that make
// the checkpoint repository independent of the user's configuration.
func (s *RemoteStore) env() string {
	d := shquote.Quote(s.dir)
	if strings.HasPrefix(s.dir, "${") {
		d = `"` + s.dir + `"` // the default, expanded on the target
	}
	return `set -u
W=` + shquote.Quote(s.ws) + `; D=` + d + `
export GIT_DIR="$D" GIT_WORK_TREE="$W" GIT_CONFIG_NOSYSTEM=1 HOME="${HOME:-/}" GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=execkit GIT_AUTHOR_EMAIL=execkit@localhost GIT_COMMITTER_NAME=execkit GIT_COMMITTER_EMAIL=execkit@localhost
git() { command git -c core.autocrlf=false -c core.fileMode=true -c core.symlinks=true -c core.quotePath=false -c gc.auto=0 -c advice.addEmbeddedRepo=false "$@"; }
cd "$W" || exit 3
`
}

// stage adds the workspace to the index: everything but the excluded
// patterns and files over the size cap.
func (s *RemoteStore) stage() string {
	return `find . -path ./.git -prune -o -type f -size +` + strconv.FormatInt(s.max, 10) + `c -print 2>/dev/null | sed 's#^\./#/#' >"$D/info/large"
git -c core.excludesFile="$D/info/large" add -A . 2>"$D/info/add-errors" || { cat "$D/info/add-errors" >&2; exit 5; }
`
}

func (s *RemoteStore) script(ctx context.Context, body string) (string, error) {
	out, errOut, code, err := s.run(ctx, s.env()+body)
	if err != nil {
		return "", fmt.Errorf("undo: %w", err)
	}
	if code != 0 {
		msg := strings.TrimSpace(string(errOut))
		if code == 3 {
			return "", fmt.Errorf("%w: %s", ErrWorkspace, msg)
		}
		if strings.Contains(msg, "unknown revision") || strings.Contains(msg, "bad revision") || strings.Contains(msg, "Not a valid object") {
			return "", fmt.Errorf("%w: %s", ErrNotFound, msg)
		}
		return "", fmt.Errorf("undo: git on the target (status %d): %s", code, msg)
	}
	return string(out), nil
}

// Checkpoint implements Store.
func (s *RemoteStore) Checkpoint(ctx context.Context, label string) (Checkpoint, error) {
	now := time.Now()
	out, err := s.script(ctx, s.stage()+`
n=$(git ls-files | wc -l)
if git rev-parse -q --verify HEAD >/dev/null && git diff --cached --quiet HEAD; then
	echo "unchanged $(git rev-parse HEAD) $n"
	exit 0
fi
git commit -q --no-verify --allow-empty -m `+shquote.Quote(label+"\n\nexeckit-files: ")+`"$n" || exit 6
echo "new $(git rev-parse HEAD) $n"
cat "$D/info/large"
`)
	if err != nil {
		return Checkpoint{}, err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	f := strings.Fields(lines[0])
	if len(f) != 3 {
		return Checkpoint{}, fmt.Errorf("undo: unexpected answer from the target: %q", out)
	}
	n, _ := strconv.Atoi(f[2])
	cp := Checkpoint{ID: f[1], Label: label, Time: now, Files: n, Unchanged: f[0] == "unchanged"}
	for _, l := range lines[1:] {
		if l != "" {
			cp.Skipped = append(cp.Skipped, strings.TrimPrefix(l, "/"))
		}
	}
	return cp, nil
}

// List implements Store.
func (s *RemoteStore) List(ctx context.Context) ([]Checkpoint, error) {
	out, err := s.script(ctx, `git rev-parse -q --verify HEAD >/dev/null || exit 0
git log --first-parent --format='%H%x00%ct%x00%B%x1e'
`)
	if err != nil {
		return nil, err
	}
	var list []Checkpoint
	for _, rec := range strings.Split(out, "\x1e") {
		rec = strings.TrimLeft(rec, "\n")
		parts := strings.SplitN(rec, "\x00", 3)
		if len(parts) != 3 {
			continue
		}
		ct, _ := strconv.ParseInt(parts[1], 10, 64)
		cp := Checkpoint{ID: parts[0], Time: time.Unix(ct, 0)}
		msg := strings.TrimRight(parts[2], "\n")
		if i := strings.Index(msg, "\n\nexeckit-files: "); i >= 0 {
			cp.Files, _ = strconv.Atoi(strings.TrimSpace(msg[i+len("\n\nexeckit-files: "):]))
			msg = msg[:i]
		}
		cp.Label = msg
		list = append(list, cp)
	}
	return list, nil
}

// checkID refuses anything but a hexadecimal checkpoint id.
func checkID(id string) error {
	if len(id) < 7 || len(id) > 40 || strings.Trim(strings.ToLower(id), "0123456789abcdef") != "" {
		return fmt.Errorf("%w: %q is not a checkpoint id", ErrNotFound, id)
	}
	return nil
}

// parseNameStatus reads `git diff --name-status -z` output; invert turns
// "changed since" into "what a restore does".
func parseNameStatus(out string, invert bool) []Change {
	var changes []Change
	f := strings.Split(out, "\x00")
	for i := 0; i+1 < len(f); i += 2 {
		kind := Modified
		switch f[i] {
		case "A":
			kind = Added
			if invert {
				kind = Deleted
			}
		case "D":
			kind = Deleted
			if invert {
				kind = Added
			}
		}
		changes = append(changes, Change{Path: f[i+1], Kind: kind})
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes
}

// Diff implements Store.
func (s *RemoteStore) Diff(ctx context.Context, from, to string) ([]Change, error) {
	if err := checkID(from); err != nil {
		return nil, err
	}
	if err := checkID(to); err != nil {
		return nil, err
	}
	out, err := s.script(ctx, `git diff --no-renames --name-status -z `+from+` `+to+` --`)
	if err != nil {
		return nil, err
	}
	return parseNameStatus(out, false), nil
}

// Restore implements Store. The workspace is staged first, so that the
// index holds exactly the files the checkpoints cover; read-tree then
// removes what was created since and writes back what was modified or
// deleted, leaving excluded files alone.
func (s *RemoteStore) Restore(ctx context.Context, id string, dryRun bool) ([]Change, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	body := s.stage() + `git rev-parse -q --verify ` + id + `^{commit} >/dev/null || { echo "unknown revision ` + id + `" >&2; exit 7; }
c=$(git ls-tree -r --name-only ` + id + ` | grep -E ` + shquote.Quote(credentialRE) + ` | head -n 1)
[ -z "$c" ] || { echo "checkpoint ` + id + ` holds $c, in a credential directory; it is not restored" >&2; exit 9; }
`
	body += `git diff --cached --no-renames --name-status -z ` + id + ` --
`
	if !dryRun {
		body += `git read-tree -u --reset ` + id + ` >&2 || exit 8
`
	}
	out, err := s.script(ctx, body)
	if err != nil {
		return nil, err
	}
	return parseNameStatus(out, true), nil
}

// credentialRE matches a path in or of a credential directory (git's
// ls-tree paths, unquoted: core.quotePath is off).
var credentialRE = `(^|/)(` + strings.ReplaceAll(strings.Join(CredentialDirs, "|"), ".", `\.`) + `)(/|$)`
