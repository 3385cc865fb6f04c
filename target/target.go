// Package target opens sessions. A session is described by one typed
// spec, journal.SessionSpec — what the journal records, so that undo and
// replay can open it again — and opened here, through a registry of
// transport factories (local, ssh, docker). The CLI, the MCP server,
// record, undo, replay and the viewer all come through this package; none
// of them knows a concrete transport.
//
// What a spec does not hold is the operator's and lives in Env: SSH keys
// and known_hosts, passwords, secrets' values, the journal.
package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/undo"
)

// Errors. Every error of Check wraps ErrSpec; an error reaching a target
// wraps ErrUnreachable (and the transport's own sentinel).
var (
	ErrSpec        = errors.New("target: invalid session spec")
	ErrUnreachable = errors.New("target: cannot reach the target")
	ErrGone        = errors.New("target: the target is gone")
)

// Factory opens one kind of transport.
type Factory struct {
	// Kind is the spec's Transport: "local", "ssh", "docker".
	Kind string
	// Remote says the target is another machine or a container: paths are
	// checked there, and checkpoint stores run git there through the
	// transport (undo.OpenRemote) instead of here (undo.OpenLocal).
	Remote bool
	// Check validates an endpoint without contacting anything.
	Check func(e journal.Endpoint) error
	// Open reaches the endpoint. A transport that connects does so here,
	// so that an unreachable host or a refused host key shows at once.
	Open func(ctx context.Context, e journal.Endpoint, env *Env) (transport.Transport, error)
}

// Registry maps transport kinds to their factories (restic's location
// registry is the model: explicit, no init-time registration).
type Registry struct {
	factories map[string]Factory
}

// NewRegistry returns a registry of the given factories.
func NewRegistry(fs ...Factory) *Registry {
	r := &Registry{factories: map[string]Factory{}}
	for _, f := range fs {
		r.factories[f.Kind] = f
	}
	return r
}

// Default is the registry of local, ssh and docker.
func Default() *Registry { return NewRegistry(Local(), SSH(), Docker()) }

// Kinds lists the registered kinds, sorted.
func (r *Registry) Kinds() []string {
	var out []string
	for k := range r.factories {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the factory of kind ("" is local).
func (r *Registry) Lookup(kind string) (Factory, error) {
	if kind == "" {
		kind = "local"
	}
	f, ok := r.factories[kind]
	if !ok {
		return Factory{}, fmt.Errorf("%w: unknown transport %q (%s)", ErrSpec, kind, strings.Join(r.Kinds(), ", "))
	}
	return f, nil
}

// SSHSettings are the operator's SSH settings.
type SSHSettings struct {
	// KeyDir confines identity files (default ~/.ssh).
	KeyDir string
	// Identities are private key files, inside KeyDir. Empty means those
	// the SSH config names for the host, else the default ones.
	Identities []string
	// KnownHosts files (default ~/.ssh/known_hosts).
	KnownHosts []string
	// HostKeyMode: strict (default), accept-new, fingerprint or insecure.
	HostKeyMode string
	// Fingerprints accepted in fingerprint mode.
	Fingerprints []string
	// Password for password authentication; never journaled.
	Password string
	// NoAgent: do not use the ssh-agent at $SSH_AUTH_SOCK.
	NoAgent bool
	// ConfigFile is the OpenSSH client config read for host aliases, their
	// HostName, User, Port and IdentityFile; "" means ~/.ssh/config,
	// "none" reads none.
	ConfigFile string
	// Warn receives warnings (insecure mode, pinned keys); nil: stderr.
	Warn io.Writer
}

// Env is what opening a session needs besides its spec: the operator's
// settings and the live objects the session works with.
type Env struct {
	SSH SSHSettings
	// Journal records the session and its commands; nil records nothing.
	Journal *journal.Journal
	// Secrets are the values of the secrets the operator names.
	Secrets []safety.Secret
	// Registry of transports; nil means Default().
	Registry *Registry
}

func (env *Env) registry() *Registry {
	if env == nil || env.Registry == nil {
		return Default()
	}
	return env.Registry
}

// Check validates a spec: a known transport and a well-formed endpoint,
// the limits, the budget and the checkpoint settings. It contacts nothing
// and creates nothing, so callers run it before they create any file.
func Check(sp journal.SessionSpec, reg *Registry) error {
	if reg == nil {
		reg = Default()
	}
	f, err := reg.Lookup(sp.Transport)
	if err != nil {
		return err
	}
	if f.Check != nil {
		if err := f.Check(sp.Endpoint); err != nil {
			return err
		}
	}
	switch {
	case sp.TimeoutMS < 0:
		return fmt.Errorf("%w: timeout must be positive, got %s", ErrSpec, sp.Timeout())
	case sp.KillGraceMS < 0:
		return fmt.Errorf("%w: kill grace must be positive, got %s", ErrSpec, sp.KillGrace())
	case sp.MaxOutputBytes < 0:
		return fmt.Errorf("%w: max output must be positive, got %d", ErrSpec, sp.MaxOutputBytes)
	}
	if err := sp.Budget.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrSpec, err)
	}
	switch sp.CheckpointMode {
	case "", session.CheckpointAuto, session.CheckpointManual, session.CheckpointOff:
	default:
		return fmt.Errorf("%w: checkpoint mode %q: want auto, manual or off", ErrSpec, sp.CheckpointMode)
	}
	if sp.Workspace == "" && (sp.CheckpointDir != "" || len(sp.Exclude) > 0 || sp.CheckpointMode == session.CheckpointAuto || sp.CheckpointMode == session.CheckpointManual) {
		return fmt.Errorf("%w: checkpoint settings need a workspace", ErrSpec)
	}
	return nil
}

// Opened is a session and the transport under it.
type Opened struct {
	Session *session.Session
	// Kind and Target say where it runs, as the transport describes itself.
	Kind, Target string
	tr           transport.Transport
}

// Close closes the session, its checkpoint store, then the transport.
func (o *Opened) Close() error { return o.CloseWith("closed") }

// CloseWith closes as Close does, recording reason as why the session
// ended (session.CloseWith).
func (o *Opened) CloseWith(reason string) error {
	err := o.Session.CloseWith(reason)
	if c, ok := o.Session.Checkpoints().(io.Closer); ok {
		c.Close()
	}
	if c, ok := o.tr.(io.Closer); ok {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Transport is the transport the session runs on.
func (o *Opened) Transport() transport.Transport { return o.tr }

// Open opens the session sp describes, recorded under id in env.Journal
// (an empty id is a random one): it reaches the target, opens the
// workspace's checkpoint store when sp has a workspace, and starts the
// shell.
func Open(ctx context.Context, sp journal.SessionSpec, env *Env, id string) (*Opened, error) {
	if env == nil {
		env = &Env{}
	}
	reg := env.registry()
	if err := Check(sp, reg); err != nil {
		return nil, err
	}
	f, _ := reg.Lookup(sp.Transport)
	tr, err := f.Open(ctx, sp.Endpoint, env)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Opened, error) {
		if c, ok := tr.(io.Closer); ok {
			c.Close()
		}
		return nil, err
	}
	opts := session.OptionsFromSpec(sp)
	opts.ID, opts.Journal, opts.Secrets = id, env.Journal, env.Secrets
	if opts.Endpoint.Transport == "" {
		opts.Endpoint.Transport = f.Kind
	}
	if sp.Workspace != "" {
		st, err := openStore(ctx, f, tr, sp, false)
		if err != nil {
			return fail(err)
		}
		opts.Checkpoints = st
	}
	s, err := session.New(ctx, tr, opts)
	if err != nil {
		return fail(err)
	}
	kind, target := transport.Describe(tr)
	return &Opened{Session: s, Kind: kind, Target: target, tr: tr}, nil
}

// Store is a workspace's checkpoint store and what it needs open.
type Store struct {
	undo.Store
	tr transport.Transport
}

// Close releases the store and the transport it runs through.
func (s *Store) Close() error {
	if c, ok := s.Store.(io.Closer); ok {
		c.Close()
	}
	if c, ok := s.tr.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// OpenStore opens the checkpoint store of sp's workspace, reaching sp's
// target (an SSH host, a container) when the workspace is there: what
// `execkit undo` uses. Its excludes are the spec's.
func OpenStore(ctx context.Context, sp journal.SessionSpec, env *Env) (*Store, error) {
	if env == nil {
		env = &Env{}
	}
	if sp.Workspace == "" {
		return nil, session.ErrNoCheckpoints
	}
	if sp.Image != "" {
		return nil, fmt.Errorf("%w: the session ran in a throwaway container of %s, removed since; its workspace went with it", ErrGone, sp.Image)
	}
	f, err := env.registry().Lookup(sp.Transport)
	if err != nil {
		return nil, err
	}
	tr, err := f.Open(ctx, sp.Endpoint, env)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, f, tr, sp, false)
	if err != nil {
		if c, ok := tr.(io.Closer); ok {
			c.Close()
		}
		return nil, err
	}
	return &Store{Store: st, tr: tr}, nil
}

// ReadOnlyStore opens an existing checkpoint store of sp's workspace on
// this machine for List and Diff only; nothing is created or written. A
// workspace on another machine is not reached (ErrGone says so).
func ReadOnlyStore(sp journal.SessionSpec, reg *Registry) (undo.Store, error) {
	if reg == nil {
		reg = Default()
	}
	f, err := reg.Lookup(sp.Transport)
	if err != nil {
		return nil, err
	}
	if sp.Workspace == "" {
		return nil, session.ErrNoCheckpoints
	}
	if f.Remote {
		return nil, fmt.Errorf("%w: the workspace is on %s %s, not read from here", ErrGone, sp.Transport, sp.Address)
	}
	return openStore(context.Background(), f, nil, sp, true)
}

func openStore(ctx context.Context, f Factory, tr transport.Transport, sp journal.SessionSpec, readOnly bool) (undo.Store, error) {
	o := undo.Options{Workspace: sp.Workspace, Dir: sp.CheckpointDir, Exclude: sp.Exclude, ReadOnly: readOnly}
	if f.Remote {
		return undo.OpenRemote(ctx, transport.ScriptRunner(tr), o)
	}
	return undo.OpenLocal(o)
}

// Remote reports whether kind's targets are other machines or containers.
func (r *Registry) Remote(kind string) bool {
	f, err := r.Lookup(kind)
	return err == nil && f.Remote
}
