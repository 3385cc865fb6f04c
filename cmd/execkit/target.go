package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/transport/docker"
	"github.com/execkit/execkit/transport/local"
	"github.com/execkit/execkit/transport/ssh"
	"github.com/execkit/execkit/undo"
)

// targetFlags choose where the shell runs: this machine by default, an SSH
// host or a Docker container.
func targetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "docker", Usage: "run in this running Docker container (name or ID)"},
		&cli.StringFlag{Name: "docker-image", Usage: "run in a throwaway container of this local image, removed afterwards"},
		&cli.StringFlag{Name: "docker-user", Usage: "with --docker/--docker-image: run as this user (name, uid or uid:gid)"},
		&cli.StringFlag{Name: "ssh", Usage: "run on this SSH host: [user@]host[:port] or a ~/.ssh/config alias"},
		&cli.StringSliceFlag{Name: "identity", Usage: "private key file for --ssh, inside --key-dir (repeatable)"},
		&cli.StringFlag{Name: "key-dir", EnvVars: []string{"EXECKIT_KEY_DIR"}, Usage: "directory identity files must be in (default ~/.ssh)"},
		&cli.StringSliceFlag{Name: "known-hosts", EnvVars: []string{"EXECKIT_KNOWN_HOSTS"}, Usage: "known_hosts file (repeatable; default ~/.ssh/known_hosts)"},
		&cli.StringFlag{Name: "host-key-mode", EnvVars: []string{"EXECKIT_HOST_KEY_MODE"}, Value: string(ssh.Strict), Usage: "strict, accept-new, fingerprint or insecure"},
		&cli.StringSliceFlag{Name: "fingerprint", Usage: "accepted host key fingerprint SHA256:… for --host-key-mode fingerprint (repeatable)"},
		&cli.StringFlag{Name: "password-env", Usage: "NAME of an environment variable holding the SSH password (never journaled)"},
		&cli.BoolFlag{Name: "no-agent", Usage: "do not use the ssh-agent at $SSH_AUTH_SOCK"},
		&cli.StringFlag{Name: "ssh-config", Usage: `OpenSSH client config read for host aliases (default ~/.ssh/config; "none" to skip)`},
	}
}

// remoteTarget reports whether the flags name a target other than this
// machine, whose paths cannot be checked here.
func remoteTarget(c *cli.Context) bool {
	return c.String("ssh") != "" || c.String("docker") != "" || c.String("docker-image") != ""
}

// openTransport builds the transport the flags name and, for a remote one,
// connects, so that an unreachable host or a refused host key is reported
// before anything runs. The returned function releases it.
func openTransport(ctx context.Context, c *cli.Context) (transport.Transport, func(), error) {
	target := c.String("ssh")
	ctr, img := c.String("docker"), c.String("docker-image")
	n := 0
	for _, s := range []string{target, ctr, img} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return nil, nil, usagef("give one target: --ssh, --docker or --docker-image")
	}
	if c.String("docker-user") != "" && ctr == "" && img == "" {
		return nil, nil, usagef("--docker-user needs --docker or --docker-image")
	}
	if ctr != "" || img != "" {
		tr, err := docker.New(ctx, docker.Config{Container: ctr, Image: img, User: c.String("docker-user")})
		if err != nil {
			return nil, nil, execError{err}
		}
		return tr, func() { tr.Close() }, nil
	}
	if target == "" {
		return local.New(), func() {}, nil
	}
	return connectSSH(ctx, c, target)
}

// connectSSH connects to target with the SSH flags of c.
func connectSSH(ctx context.Context, c *cli.Context, target string) (transport.Transport, func(), error) {
	cfg, err := sshConfig(c, target)
	if err != nil {
		return nil, nil, err
	}
	tr, err := ssh.New(cfg)
	if err != nil {
		return nil, nil, usageError{err.Error()}
	}
	if err := tr.Connect(ctx); err != nil {
		tr.Close()
		return nil, nil, execError{err}
	}
	return tr, func() { tr.Close() }, nil
}

func sshConfig(c *cli.Context, target string) (ssh.Config, error) {
	user, host, port, err := ssh.ParseTarget(target)
	if err != nil {
		return ssh.Config{}, usageError{"--ssh: " + err.Error()}
	}
	cfg := ssh.Config{
		User: user, Host: host, Port: port,
		KeyDir:       c.String("key-dir"),
		Identities:   c.StringSlice("identity"),
		KnownHosts:   c.StringSlice("known-hosts"),
		HostKeyMode:  ssh.HostKeyMode(c.String("host-key-mode")),
		Fingerprints: c.StringSlice("fingerprint"),
		Agent:        !c.Bool("no-agent"),
		Warn:         c.App.ErrWriter,
	}
	if name := c.String("password-env"); name != "" {
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return cfg, usagef("--password-env %s: no such environment variable (name the variable, not the password)", name)
		}
		cfg.Password = v
	}
	confFile := c.String("ssh-config")
	if confFile == "" {
		if home, err := os.UserHomeDir(); err == nil {
			confFile = filepath.Join(home, ".ssh", "config")
		}
	}
	if confFile != "none" && confFile != "" {
		a, err := ssh.LookupAlias(confFile, host)
		if err != nil {
			return cfg, usageError{err.Error()}
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

// remoteRunner is the side channel a remote checkpoint store runs git
// through: a short sh script started by the transport.
func remoteRunner(tr any) (undo.Runner, bool) {
	var t transport.Transport
	switch x := tr.(type) {
	case *ssh.Transport:
		t = x
	case *docker.Transport:
		t = x
	default:
		return nil, false
	}
	return transport.ScriptRunner(t), true
}

// openRecordedTransport reconnects to the target a journal session ran on;
// target flags given on the command line take precedence.
func openRecordedTransport(ctx context.Context, c *cli.Context, s journal.Session) (transport.Transport, func(), error) {
	if remoteTarget(c) {
		return openTransport(ctx, c)
	}
	switch s.Transport {
	case "local", "":
		return local.New(), func() {}, nil
	case "ssh":
		return connectSSH(ctx, c, s.Target)
	case "docker":
		if strings.Contains(s.Target, "(throwaway") {
			return nil, nil, execError{fmt.Errorf("the session ran in a throwaway container (%s), removed since: its workspace is gone", s.Target)}
		}
		tr, err := docker.New(ctx, docker.Config{Container: s.Target, User: c.String("docker-user")})
		if err != nil {
			return nil, nil, execError{err}
		}
		return tr, func() { tr.Close() }, nil
	}
	return nil, nil, execError{fmt.Errorf("unknown transport %q in the journal", s.Transport)}
}
