package target

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/transport/docker"
	"github.com/execkit/execkit/transport/local"
	"github.com/execkit/execkit/transport/ssh"
)

// Local is this machine.
func Local() Factory {
	return Factory{
		Kind: "local",
		Check: func(e journal.Endpoint) error {
			if e.Address != "" || e.Image != "" || e.User != "" {
				return fmt.Errorf("%w: a local session takes no address, image or user", ErrSpec)
			}
			return nil
		},
		Open: func(context.Context, journal.Endpoint, *Env) (transport.Transport, error) {
			return local.New(), nil
		},
	}
}

// SSH is a host reached over SSH: the address is [user@]host[:port] or an
// alias of the OpenSSH client config, whose HostName, User, Port and
// IdentityFile apply.
func SSH() Factory {
	return Factory{
		Kind:   "ssh",
		Remote: true,
		Check: func(e journal.Endpoint) error {
			if e.Image != "" || e.User != "" {
				return fmt.Errorf("%w: an ssh session takes the user in its address (user@host), and no image", ErrSpec)
			}
			if _, _, _, err := ssh.ParseTarget(e.Address); err != nil {
				return fmt.Errorf("%w: %w", ErrSpec, err)
			}
			return nil
		},
		Open: func(ctx context.Context, e journal.Endpoint, env *Env) (transport.Transport, error) {
			cfg, err := SSHConfig(e.Address, env.SSH)
			if err != nil {
				return nil, err
			}
			tr, err := ssh.New(cfg)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrSpec, err)
			}
			if err := tr.Connect(ctx); err != nil {
				tr.Close()
				return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
			}
			return tr, nil
		},
	}
}

// SSHConfig is the ssh.Config for address under the operator's settings:
// the OpenSSH client config's alias resolved, then the settings' keys,
// known_hosts and host key mode.
func SSHConfig(address string, set SSHSettings) (ssh.Config, error) {
	user, host, port, err := ssh.ParseTarget(address)
	if err != nil {
		return ssh.Config{}, fmt.Errorf("%w: %w", ErrSpec, err)
	}
	cfg := ssh.Config{
		User: user, Host: host, Port: port,
		KeyDir: set.KeyDir, Identities: set.Identities, KnownHosts: set.KnownHosts,
		HostKeyMode: ssh.HostKeyMode(set.HostKeyMode), Fingerprints: set.Fingerprints,
		Password: set.Password, Agent: !set.NoAgent, Warn: set.Warn,
	}
	conf := set.ConfigFile
	if conf == "" {
		if home, err := os.UserHomeDir(); err == nil {
			conf = filepath.Join(home, ".ssh", "config")
		}
	}
	if conf != "none" && conf != "" {
		a, err := ssh.LookupAlias(conf, host)
		if err != nil {
			return cfg, fmt.Errorf("%w: %w", ErrSpec, err)
		}
		if a.HostName != "" {
			cfg.Host = a.HostName
		}
		if cfg.User == "" {
			cfg.User = a.User
		}
		if cfg.Port == 0 {
			cfg.Port = a.Port
		}
		if len(cfg.Identities) == 0 {
			cfg.Identities = a.IdentityFiles
		}
	}
	if len(cfg.Identities) == 0 && cfg.Password == "" && (!cfg.Agent || os.Getenv("SSH_AUTH_SOCK") == "") {
		cfg.Identities = ssh.DefaultIdentities(cfg.KeyDir)
	}
	return cfg, nil
}

// Docker is a container: a running one named by the address, or a
// throwaway one of Image, removed when the transport closes.
func Docker() Factory {
	return Factory{
		Kind:   "docker",
		Remote: true,
		Check: func(e journal.Endpoint) error {
			if (e.Address == "") == (e.Image == "") {
				return fmt.Errorf("%w: a docker session takes a container or an image, one of them", ErrSpec)
			}
			return nil
		},
		Open: func(ctx context.Context, e journal.Endpoint, _ *Env) (transport.Transport, error) {
			tr, err := docker.New(ctx, docker.Config{Container: e.Address, Image: e.Image, User: e.User})
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
			}
			return tr, nil
		},
	}
}

// Check validates the settings without contacting anything.
func (s SSHSettings) Check() error {
	mode, err := ssh.ParseHostKeyMode(s.HostKeyMode)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSpec, err)
	}
	if mode == ssh.Fingerprint && len(s.Fingerprints) == 0 {
		return fmt.Errorf("%w: host key mode fingerprint needs a fingerprint (SHA256:…, as ssh-keygen -l prints it)", ErrSpec)
	}
	return nil
}

// Insecure reports whether the settings turn host key checking off.
func (s SSHSettings) Insecure() bool { return s.HostKeyMode == string(ssh.Insecure) }
