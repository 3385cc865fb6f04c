package replay

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/execkit/execkit/internal/shquote"
	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target"
)

// Fields that can be compared.
const (
	FieldExit   = "exit"
	FieldStdout = "stdout"
	FieldStderr = "stderr"
	FieldCwd    = "cwd"
)

// AllFields are compared by default.
var AllFields = []string{FieldExit, FieldStdout, FieldStderr, FieldCwd}

// ParseFields checks a --compare list.
func ParseFields(spec string) ([]string, error) {
	if strings.TrimSpace(spec) == "" {
		return AllFields, nil
	}
	var out []string
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		switch f {
		case FieldExit, FieldStdout, FieldStderr, FieldCwd:
			out = append(out, f)
		default:
			return nil, fmt.Errorf("replay: cannot compare %q (exit, stdout, stderr, cwd)", f)
		}
	}
	return out, nil
}

// Options shape a replay.
type Options struct {
	Session       string // only this recorded session ("" all)
	From, To      uint64 // entry range (0: open)
	StopOnDiverge bool
	DryRun        bool     // list what would run, run nothing
	Compare       []string // default AllFields
	Normalizer    *Normalizer
	// Secrets give the values of ${secret:NAME} placeholders.
	Secrets map[string]string
	// Record, when set, journals the replayed commands.
	Record *journal.Journal
	// Target is where the commands run again; the zero Endpoint is this
	// machine.
	Target journal.Endpoint
	// Env holds the operator's settings for reaching Target (SSH keys,
	// known_hosts); its Journal and Secrets are Record and Secrets.
	Env target.Env
	// Progress, when set, is called after each entry.
	Progress func(done, total int)
}

// Outcomes of one entry.
const (
	Match   = "match"
	Diverge = "diverge"
	Skipped = "skipped"
	Failed  = "error"
)

// FieldDiff is one field that differs, after normalization.
type FieldDiff struct {
	Field    string `json:"field"`
	Recorded string `json:"recorded"`
	Replayed string `json:"replayed"`
	Diff     string `json:"diff,omitempty"` // unified diff, for stdout/stderr
}

// EntryResult is the outcome of one entry.
type EntryResult struct {
	Seq        uint64      `json:"seq"`
	ReplaySeq  uint64      `json:"replay_seq,omitempty"` // its entry in the other journal (diff) or the recording
	Session    string      `json:"session"`
	Command    string      `json:"command"`
	Outcome    string      `json:"outcome"` // match, diverge, skipped, error
	Reason     string      `json:"reason,omitempty"`
	Diffs      []FieldDiff `json:"diffs,omitempty"`
	DurationMS float64     `json:"duration_ms"`
}

// Report is a whole replay or diff.
type Report struct {
	Journal      string        `json:"journal"`
	Against      string        `json:"against"` // the target, or the other journal
	Normalizers  []string      `json:"normalizers"`
	Compared     []string      `json:"compared"`
	Entries      []EntryResult `json:"entries"`
	Matched      int           `json:"matched"`
	Diverged     int           `json:"diverged"`
	Errors       int           `json:"errors"`
	Skipped      int           `json:"skipped"`
	FirstDiverge uint64        `json:"first_diverge,omitempty"`
	Stopped      bool          `json:"stopped,omitempty"` // --stop-on-diverge ended it early
	DurationMS   float64       `json:"duration_ms"`
}

func (r *Report) add(e EntryResult) {
	r.Entries = append(r.Entries, e)
	switch e.Outcome {
	case Match:
		r.Matched++
	case Diverge:
		r.Diverged++
		if r.FirstDiverge == 0 {
			r.FirstDiverge = e.Seq
		}
	case Skipped:
		r.Skipped++
	default:
		r.Errors++
	}
}

// OK reports whether every compared entry matched.
func (r *Report) OK() bool { return r.Diverged == 0 && r.Errors == 0 }

var placeholder = regexp.MustCompile(`\$\{secret:([A-Za-z_][A-Za-z0-9_]*)\}`)

// Placeholders lists the secret names the entries' commands need.
func Placeholders(entries []journal.Entry) []string {
	seen := map[string]bool{}
	var names []string
	for _, e := range entries {
		for _, m := range placeholder.FindAllStringSubmatch(e.Command, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				names = append(names, m[1])
			}
		}
	}
	sort.Strings(names)
	return names
}

// Plan is what a replay will run, read from a journal.
type Plan struct {
	Path     string
	Sessions []journal.Session
	Entries  []journal.Entry // in order
}

// Load reads the entries of a journal that a replay covers.
func Load(r *journal.Reader, path string, o Options) (Plan, error) {
	p := Plan{Path: path}
	sessions, err := r.Sessions()
	if err != nil {
		return p, err
	}
	entries, err := r.Entries(journal.Filter{Session: o.Session})
	if err != nil {
		return p, err
	}
	used := map[string]bool{}
	for _, e := range entries {
		if (o.From != 0 && e.Seq < o.From) || (o.To != 0 && e.Seq > o.To) {
			continue
		}
		p.Entries = append(p.Entries, e)
		used[e.Session] = true
	}
	for _, s := range sessions {
		if used[s.ID] {
			p.Sessions = append(p.Sessions, s)
		}
	}
	if o.Session != "" && len(p.Sessions) == 0 {
		return p, fmt.Errorf("replay: no session %q with entries in %s", o.Session, path)
	}
	return p, nil
}

// ErrMissingSecret means a recorded command needs a secret nobody gave.
var ErrMissingSecret = errors.New("replay: missing secret")

// Run replays the plan. Its error is for failures of the replay itself
// (a missing secret, a session that cannot be opened); outcomes of entries
// are in the report.
func Run(ctx context.Context, p Plan, o Options) (Report, error) {
	start := time.Now()
	rep := Report{Journal: p.Path, Normalizers: o.Normalizer.Names(), Compared: o.Compare}
	if len(rep.Compared) == 0 {
		rep.Compared = AllFields
	}
	var missing []string
	for _, name := range Placeholders(p.Entries) {
		if _, ok := o.Secrets[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return rep, fmt.Errorf("%w: the journal's commands use ${secret:%s}; give the value(s) in the environment (nothing was run)", ErrMissingSecret, strings.Join(missing, "}, ${secret:"))
	}
	sessions := map[string]*target.Opened{}
	defer func() {
		for _, s := range sessions {
			s.Close()
		}
	}()
	recs := map[string]journal.Session{}
	for _, s := range p.Sessions {
		recs[s.ID] = s
	}
	for i, e := range p.Entries {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		res := EntryResult{Seq: e.Seq, Session: e.Session, Command: e.Command}
		rec := recs[e.Session]
		switch {
		case e.Status == journal.StatusInterrupted || e.Status == journal.StatusRunning || (e.Completion == nil && e.Status != journal.StatusBlocked):
			res.Outcome, res.Reason = Skipped, "no recorded result ("+string(e.Status)+")"
		case o.DryRun:
			res.Outcome, res.Reason = Skipped, "dry run"
		case e.Status == journal.StatusBlocked:
			// Checked against the recorded policy, never run.
			d := rec.Spec.Policy.Check(fill(e.Command, o.Secrets))
			if d.Allowed {
				res.Outcome, res.Reason = Diverge, "recorded as blocked, but the recorded policy now allows it"
				break
			}
			res.Outcome, res.Reason = Match, "still blocked: "+d.Reason
			if o.Record != nil {
				// Through the session, whose fence (the same policy)
				// refuses it before it runs, so that the replay's journal
				// has the entry too.
				s, err := sessionFor(ctx, sessions, o, rec, &rep)
				if err != nil {
					return rep, err
				}
				if r, err := s.Exec(ctx, fill(e.Command, o.Secrets), session.ExecOptions{}); err != nil || !r.Blocked {
					return rep, fmt.Errorf("replay: entry %d: the session did not refuse it (%v)", e.Seq, err)
				} else {
					res.ReplaySeq = r.Entry
				}
			}
		default:
			s, err := sessionFor(ctx, sessions, o, rec, &rep)
			if err != nil {
				return rep, err
			}
			t0 := time.Now()
			r, err := s.Exec(ctx, fill(replayCommand(e), o.Secrets), session.ExecOptions{})
			res.DurationMS = float64(time.Since(t0).Microseconds()) / 1000
			res.ReplaySeq = r.Entry
			switch {
			case err != nil && !errors.Is(err, session.ErrShellEnded):
				res.Outcome, res.Reason = Failed, err.Error()
			case r.Blocked:
				res.Outcome, res.Reason = Diverge, "the recorded policy now blocks it: "+r.Decision.Reason
			default:
				fields := rep.Compared
				if e.Kind == observedKind {
					fields = withoutCwd(fields) // a shell of its own: the session's cwd is not its
				}
				res.Diffs = compareResult(e, r, fields, o.Normalizer)
				res.Outcome = Match
				if len(res.Diffs) > 0 {
					res.Outcome = Diverge
				}
				if e.Completion.TimedOut != r.TimedOut {
					res.Outcome = Diverge
					res.Reason = fmt.Sprintf("timed out: recorded %v, replayed %v", e.Completion.TimedOut, r.TimedOut)
				}
			}
		}
		rep.add(res)
		if o.Progress != nil {
			o.Progress(i+1, len(p.Entries))
		}
		if res.Outcome == Diverge && o.StopOnDiverge {
			rep.Stopped = i+1 < len(p.Entries)
			break
		}
	}
	rep.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	return rep, nil
}

// observedKind is the kind of the entries `execkit record` observed: shell
// commands the agent started by itself.
const observedKind = "observed"

// replayCommand is what runs again for an entry: its command; for an
// observed one, its shell with the recorded arguments, a fresh shell in a
// subshell of the session, in the recorded working directory where the
// target has it.
func replayCommand(e journal.Entry) string {
	if e.Kind != observedKind || len(e.Argv) == 0 {
		return e.Command
	}
	return "(cd " + shquote.Quote(e.CwdBefore) + " 2>/dev/null; exec " + shquote.Join(e.Argv) + ")"
}

// withoutCwd is fields without the working directory.
func withoutCwd(fields []string) []string {
	var out []string
	for _, f := range fields {
		if f != FieldCwd {
			out = append(out, f)
		}
	}
	return out
}

// sessionFor returns the fresh session of a recorded one, opening it on
// first use.
func sessionFor(ctx context.Context, sessions map[string]*target.Opened, o Options, rec journal.Session, rep *Report) (*session.Session, error) {
	if s := sessions[rec.ID]; s != nil {
		return s.Session, nil
	}
	s, err := open(ctx, o, rec)
	if err != nil {
		return nil, fmt.Errorf("replay: session %s: %w", rec.ID, err)
	}
	sessions[rec.ID] = s
	if rep.Against == "" {
		rep.Against = s.Kind + " " + s.Target
	}
	return s.Session, nil
}

// open starts the fresh session for a recorded one on o.Target: the
// recorded shell, directory, timeouts, output limits, budget and policy;
// the secrets as redaction keys (so that output is scrubbed as it was
// when recorded); no checkpoints.
func open(ctx context.Context, o Options, rec journal.Session) (*target.Opened, error) {
	sp := rec.Spec
	sp.Endpoint = o.Target
	if sp.Transport == "" {
		sp.Transport = "local"
	}
	sp.Workspace, sp.CheckpointDir, sp.CheckpointMode, sp.Exclude = "", "", "", nil
	// The policy holds as far as the new target allows: a session recorded
	// with --enforce exec replays over SSH too, on the text only.
	sp.Enforce = ""
	// A command that ended the recorded shell is followed by the next one
	// in a new shell, whatever the recorded session did after it.
	sp.NoRespawn = false
	env := o.Env
	env.Journal, env.Secrets = o.Record, nil
	for name, v := range o.Secrets {
		env.Secrets = append(env.Secrets, safety.Secret{Name: name, Value: v})
	}
	return target.Open(ctx, sp, &env, "")
}

// fill puts the secrets' values in place of their placeholders.
func fill(cmd string, secrets map[string]string) string {
	return placeholder.ReplaceAllStringFunc(cmd, func(m string) string {
		return secrets[placeholder.FindStringSubmatch(m)[1]]
	})
}

// compareResult compares a replayed result with a recorded completion.
func compareResult(e journal.Entry, r session.Result, fields []string, n *Normalizer) []FieldDiff {
	return compareFields(e.Completion, &journal.Completion{
		ExitCode: r.ExitCode, Stdout: r.Stdout, Stderr: r.Stderr, Cwd: r.Cwd,
	}, fields, n)
}

// compareFields compares two completions field by field, normalized.
func compareFields(a, b *journal.Completion, fields []string, n *Normalizer) []FieldDiff {
	var out []FieldDiff
	for _, f := range fields {
		var x, y string
		switch f {
		case FieldExit:
			x, y = fmt.Sprint(a.ExitCode), fmt.Sprint(b.ExitCode)
		case FieldStdout:
			x, y = n.Apply(a.Stdout), n.Apply(b.Stdout)
		case FieldStderr:
			x, y = n.Apply(a.Stderr), n.Apply(b.Stderr)
		case FieldCwd:
			x, y = n.Apply(a.Cwd), n.Apply(b.Cwd)
		}
		if x == y {
			continue
		}
		d := FieldDiff{Field: f, Recorded: x, Replayed: y}
		if f == FieldStdout || f == FieldStderr {
			d.Diff = Unified(x, y, "recorded "+f, "replayed "+f)
		}
		out = append(out, d)
	}
	return out
}

// Diff compares two journals without running anything: the sessions of
// each in order, paired one to one, and within them the entries in order.
func Diff(a, b Plan, o Options) Report {
	start := time.Now()
	rep := Report{Journal: a.Path, Against: b.Path, Normalizers: o.Normalizer.Names(), Compared: o.Compare}
	if len(rep.Compared) == 0 {
		rep.Compared = AllFields
	}
	bySession := func(p Plan) [][]journal.Entry {
		idx := map[string]int{}
		var out [][]journal.Entry
		for _, s := range p.Sessions {
			idx[s.ID] = len(out)
			out = append(out, nil)
		}
		for _, e := range p.Entries {
			if i, ok := idx[e.Session]; ok {
				out[i] = append(out[i], e)
			}
		}
		return out
	}
	sa, sb := bySession(a), bySession(b)
	for i := range sa {
		for j, e := range sa[i] {
			res := EntryResult{Seq: e.Seq, Session: e.Session, Command: e.Command}
			var other *journal.Entry
			if i < len(sb) && j < len(sb[i]) {
				other = &sb[i][j]
				res.ReplaySeq = other.Seq
			}
			switch {
			case other == nil:
				res.Outcome, res.Reason = Diverge, "missing from "+b.Path
			case other.Command != e.Command:
				res.Outcome, res.Reason = Diverge, fmt.Sprintf("a different command there: %q", other.Command)
			case (e.Status == journal.StatusBlocked) != (other.Status == journal.StatusBlocked):
				res.Outcome, res.Reason = Diverge, fmt.Sprintf("status %s there, %s here", other.Status, e.Status)
			case e.Status == journal.StatusBlocked:
				res.Outcome, res.Reason = Match, "blocked in both"
			case e.Completion == nil || other.Completion == nil:
				res.Outcome, res.Reason = Skipped, "no result in one of them"
			default:
				res.Diffs = compareFields(e.Completion, other.Completion, rep.Compared, o.Normalizer)
				res.Outcome = Match
				if len(res.Diffs) > 0 {
					res.Outcome = Diverge
				}
			}
			rep.add(res)
			if res.Outcome == Diverge && o.StopOnDiverge {
				rep.Stopped = true
				rep.DurationMS = float64(time.Since(start).Microseconds()) / 1000
				return rep
			}
		}
		if i < len(sb) && len(sb[i]) > len(sa[i]) {
			for _, e := range sb[i][len(sa[i]):] {
				rep.add(EntryResult{Seq: 0, ReplaySeq: e.Seq, Session: e.Session, Command: e.Command, Outcome: Diverge, Reason: "only in " + b.Path})
			}
		}
	}
	rep.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	return rep
}
