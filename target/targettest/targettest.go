// Package targettest opens sessions for tests and benchmarks the way
// execkit does, through the opener in package target: on this machine,
// on a test sshd (transport/ssh/sshtest) or in a test container
// (transport/docker/dockertest). Construction is then tested along with
// the session.
package targettest

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/session/sessiontest"
	"github.com/execkit/execkit/target"
	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/transport/ssh/sshtest"
)

// Local is this machine.
var Local = journal.Endpoint{Transport: "local"}

// SSH is the endpoint of srv and the settings that trust its host keys
// and log in with its key.
func SSH(tb testing.TB, srv *sshtest.Server) (journal.Endpoint, target.SSHSettings) {
	cfg := srv.Config(tb)
	return journal.Endpoint{Transport: "ssh", Address: srv.Target()}, target.SSHSettings{
		KeyDir: cfg.KeyDir, Identities: cfg.Identities, KnownHosts: cfg.KnownHosts, NoAgent: true, ConfigFile: "none",
	}
}

// Docker is the endpoint of a running container.
func Docker(container string) journal.Endpoint {
	return journal.Endpoint{Transport: "docker", Address: container}
}

// Open opens the session sp describes, with env (nil: none), and closes
// it when the test ends.
func Open(tb testing.TB, sp journal.SessionSpec, env *target.Env) *target.Opened {
	tb.Helper()
	o, err := target.Open(context.Background(), sp, env, "")
	if err != nil {
		tb.Fatalf("target.Open %s %s: %v", sp.Transport, sp.Address, err)
	}
	tb.Cleanup(func() { o.Close() })
	return o
}

// Factory is the sessiontest.Factory that opens every session through
// target.Open at e: the options become a spec (session.Options.Spec), the
// journal and secrets go in the Env. The sessions share one transport (one
// SSH connection, one engine client), opened through the real factory on
// first use and closed when tb ends, as the sessions of one execkit run
// would share them; each session is closed when its own test ends.
func Factory(tb testing.TB, e journal.Endpoint, set target.SSHSettings) sessiontest.Factory {
	reg := Shared(tb, target.Default())
	return func(t *testing.T, opts session.Options) *session.Session {
		t.Helper()
		sp := opts.Spec()
		sp.Endpoint = e
		env := &target.Env{SSH: set, Journal: opts.Journal, Secrets: opts.Secrets, Registry: reg}
		o, err := target.Open(context.Background(), sp, env, opts.ID)
		if err != nil {
			t.Fatalf("target.Open: %v", err)
		}
		t.Cleanup(func() { o.Close() })
		return o.Session
	}
}

// Shared decorates every factory of reg so that each endpoint is reached
// once: later opens get the same transport, which closing a session does
// not close; it is closed when tb ends.
func Shared(tb testing.TB, reg *target.Registry) *target.Registry {
	var mu sync.Mutex
	open := map[journal.Endpoint]transport.Transport{}
	tb.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, tr := range open {
			if c, ok := tr.(io.Closer); ok {
				c.Close()
			}
		}
	})
	var fs []target.Factory
	for _, kind := range reg.Kinds() {
		f, _ := reg.Lookup(kind)
		inner := f.Open
		f.Open = func(ctx context.Context, e journal.Endpoint, env *target.Env) (transport.Transport, error) {
			mu.Lock()
			defer mu.Unlock()
			if tr, ok := open[e]; ok {
				return shared{tr}, nil
			}
			tr, err := inner(ctx, e, env)
			if err != nil {
				return nil, err
			}
			open[e] = tr
			return shared{tr}, nil
		}
		fs = append(fs, f)
	}
	return target.NewRegistry(fs...)
}

// shared is a transport whose Close leaves it open for the next session.
type shared struct{ transport.Transport }

func (s shared) Describe() (kind, target string) { return transport.Describe(s.Transport) }

func (shared) Close() error { return nil }
