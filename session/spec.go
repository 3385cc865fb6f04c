package session

import (
	"time"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/transport"
)

// Spec returns the session's configuration as its journal records it.
func (s *Session) Spec() journal.SessionSpec { return s.spec }

// Spec is what the journal records of a session opened with o: the one
// mapping from Options to journal.SessionSpec (OptionsFromSpec is its
// inverse). The workspace, its repository and excludes come from
// o.Checkpoints; secrets are kept by name.
func (o Options) Spec() journal.SessionSpec {
	sp := journal.SessionSpec{
		Version: journal.SpecVersion, Endpoint: o.Endpoint,
		Shell: o.Shell, Dir: o.Dir, TTY: o.TTY,
		TimeoutMS: ms(o.Timeout), KillGraceMS: ms(o.KillGrace), MaxOutputBytes: o.MaxOutputBytes,
		Budget: o.Budget, Policy: o.Policy, Enforce: o.Enforce, Raw: o.Raw, NoRedact: o.NoRedact, NoRespawn: o.NoRespawn,
		CheckpointMode: o.CheckpointMode,
	}
	if sp.Policy.Empty() {
		sp.Policy = nil
	}
	for _, sec := range o.Secrets {
		sp.SecretNames = append(sp.SecretNames, sec.Name)
	}
	if o.Checkpoints != nil {
		info := o.Checkpoints.Info()
		sp.Workspace, sp.CheckpointDir, sp.Exclude = info.Workspace, info.Dir, info.Exclude
	}
	return sp
}

// specOf is opts.Spec() with the transport named when opts do not say.
func specOf(opts Options, tr transport.Transport) journal.SessionSpec {
	sp := opts.Spec()
	if sp.Transport == "" {
		sp.Transport, _ = transport.Describe(tr)
	}
	return sp
}

// OptionsFromSpec returns the Options a recorded spec describes. What a
// spec does not hold is the caller's to add: the journal, the checkpoint
// store (opened from sp.Workspace, sp.CheckpointDir and sp.Exclude), the
// secrets' values and the environment.
func OptionsFromSpec(sp journal.SessionSpec) Options {
	o := Options{
		Endpoint: sp.Endpoint, Shell: sp.Shell, Dir: sp.Dir, TTY: sp.TTY,
		Timeout: sp.Timeout(), KillGrace: sp.KillGrace(), MaxOutputBytes: sp.MaxOutputBytes,
		Budget: sp.Budget, Policy: sp.Policy, Enforce: sp.Enforce, Raw: sp.Raw, NoRedact: sp.NoRedact, NoRespawn: sp.NoRespawn,
		CheckpointMode: sp.CheckpointMode,
	}
	if sp.Workspace == "" && o.CheckpointMode == CheckpointOff {
		o.CheckpointMode = ""
	}
	return o
}

// ms turns a duration into whole milliseconds for a spec, rounding up so
// that a positive duration never becomes zero (the default).
func ms(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
