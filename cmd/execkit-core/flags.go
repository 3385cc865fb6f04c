package main

import (
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target"
)

// Flags are declared here once, in groups; each command takes the groups
// it needs, and specFromFlags and envFromFlags read them in one place.

// targetFlags choose where the shell runs: this machine by default, an SSH
// host or a Docker container.
func targetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "docker", Usage: "run in this running Docker container (name or ID)"},
		&cli.StringFlag{Name: "docker-image", Usage: "run in a throwaway container of this local image, removed afterwards"},
		&cli.StringFlag{Name: "docker-user", Usage: "with --docker/--docker-image: run as this user (name, uid or uid:gid)"},
		&cli.StringFlag{Name: "ssh", Usage: "run on this SSH host: [user@]host[:port] or a ~/.ssh/config alias"},
	}
}

// sshFlags are the operator's SSH settings, for --ssh and for the ssh
// sessions an agent opens.
func sshFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "identity", Usage: "private key file for SSH, inside --key-dir (repeatable)"},
		&cli.StringFlag{Name: "key-dir", EnvVars: []string{"EXECKIT_KEY_DIR"}, Usage: "directory identity files must be in (default ~/.ssh)"},
		&cli.StringSliceFlag{Name: "known-hosts", EnvVars: []string{"EXECKIT_KNOWN_HOSTS"}, Usage: "known_hosts file (repeatable; default ~/.ssh/known_hosts)"},
		&cli.StringFlag{Name: "host-key-mode", EnvVars: []string{"EXECKIT_HOST_KEY_MODE"}, Value: "strict", Usage: "strict, accept-new, fingerprint or insecure"},
		&cli.StringSliceFlag{Name: "fingerprint", Usage: "accepted host key fingerprint SHA256:… for --host-key-mode fingerprint (repeatable)"},
		&cli.StringFlag{Name: "password-env", Usage: "NAME of an environment variable holding the SSH password (never journaled)"},
		&cli.BoolFlag{Name: "no-agent", Usage: "do not use the ssh-agent at $SSH_AUTH_SOCK"},
		&cli.StringFlag{Name: "ssh-config", Usage: `OpenSSH client config read for host aliases (default ~/.ssh/config; "none" to skip)`},
	}
}

// policyFlags set the policy every command passes.
func policyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "policy", EnvVars: []string{"EXECKIT_POLICY"}, Usage: `policy file (JSON: allow, deny, deny_patterns); "none" for no policy, not even the tripwire; see docs/security-model.md`},
		&cli.BoolFlag{Name: "no-tripwire", Usage: "do not refuse the destructive commands the default tripwire refuses (rm -rf /, mkfs, curl | sh, …)"},
		&cli.StringSliceFlag{Name: "deny", Usage: "program that may not run (repeatable)"},
		&cli.StringSliceFlag{Name: "allow", Usage: "program that may run; with any --allow, only those (repeatable)"},
		&cli.StringFlag{Name: "enforce", EnvVars: []string{"EXECKIT_ENFORCE"}, Usage: "where the policy holds: exec (the command's text and every program it starts; local shells on Linux) or text (the command's text only) (default: exec where it can run, text elsewhere)"},
	}
}

// sessionFlags shape every session: its shell, limits, output and policy.
func sessionFlags() []cli.Flag {
	return append(append([]cli.Flag{
		&cli.StringFlag{Name: "cwd", Usage: "initial working directory"},
		&cli.DurationFlag{Name: "timeout", Value: session.DefaultTimeout, Usage: "per-command timeout"},
		&cli.StringFlag{Name: "shell", Usage: `shell to run: "bash", "sh" or a path (default: bash, else sh)`},
		&cli.BoolFlag{Name: "tty", Usage: "give commands a pseudo-terminal as stdin/stdout"},
		&cli.IntFlag{Name: "max-output", Value: session.DefaultMaxOutputBytes, Usage: "bytes of each stream to keep (first and last half)"},
		&cli.StringSliceFlag{Name: "secret", Usage: "NAME of an environment variable whose value is a secret to redact (repeatable; the value never goes on the command line)"},
	}, policyFlags()...), []cli.Flag{
		&cli.BoolFlag{Name: "raw", Usage: "keep terminal escape sequences and control characters in the output"},
		&cli.StringFlag{Name: "budget", Usage: "shape each stream: head, tail, head+tail or grep"},
		&cli.IntFlag{Name: "lines", Usage: "lines kept by --budget head/tail (each end for head+tail; default 50)"},
		&cli.StringFlag{Name: "grep", Usage: "with --budget grep: keep lines matching this regular expression"},
		&cli.IntFlag{Name: "context", Usage: "with --budget grep: lines kept around each match"},
		&cli.IntFlag{Name: "max-chars", Usage: "cap each stream at this many characters (start and end kept)"},
		&cli.BoolFlag{Name: "no-redact", Usage: "return and record output as printed, without secret redaction"},
	}...)
}

// workspaceFlags turn on workspace checkpoints.
func workspaceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "workspace", Usage: "keep checkpoints of this `DIR` (on the target) so that execkit undo can restore it"},
		&cli.StringFlag{Name: "checkpoint", Usage: "with --workspace: auto (before each command that may change files), manual or off", Value: session.CheckpointAuto},
		&cli.StringFlag{Name: "checkpoint-dir", Usage: "with --workspace: the checkpoint repository (default under $XDG_STATE_HOME/execkit/checkpoints)"},
		&cli.StringSliceFlag{Name: "exclude", Usage: "with --workspace: a path pattern left out of checkpoints and never restored (repeatable; .git, node_modules, .ssh … always are)"},
	}
}

// journalFlag names the journal a command records in.
func journalFlag(usage string, envVars ...string) cli.Flag {
	return &cli.StringFlag{Name: "journal", EnvVars: envVars, Usage: usage}
}

// anchorFlag names the anchor file a writer appends the journal's head to
// when it seals the run (journal.Anchor); verify takes it too.
func anchorFlag() cli.Flag {
	return &cli.StringFlag{Name: "anchor", EnvVars: []string{"EXECKIT_ANCHOR"}, Usage: "append the journal's head to this `FILE` when the run is sealed (keep it where the agent cannot write); verify --anchor checks the journal against it"}
}

// flagsOf joins flag groups.
func flagsOf(groups ...[]cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// has reports whether the command declares the flag.
func has(c *cli.Context, name string) bool {
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

// endpointFromFlags is the target the flags name; the zero Endpoint's
// transport is "local".
func endpointFromFlags(c *cli.Context) (journal.Endpoint, error) {
	if !has(c, "ssh") {
		return journal.Endpoint{Transport: "local"}, nil
	}
	sshHost, ctr, img, user := c.String("ssh"), c.String("docker"), c.String("docker-image"), c.String("docker-user")
	n := 0
	for _, s := range []string{sshHost, ctr, img} {
		if s != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return journal.Endpoint{}, usagef("give one target: --ssh, --docker or --docker-image")
	case user != "" && ctr == "" && img == "":
		return journal.Endpoint{}, usagef("--docker-user needs --docker or --docker-image")
	case sshHost != "":
		return journal.Endpoint{Transport: "ssh", Address: sshHost}, nil
	case ctr != "" || img != "":
		return journal.Endpoint{Transport: "docker", Address: ctr, Image: img, User: user}, nil
	}
	return journal.Endpoint{Transport: "local"}, nil
}

// remoteTarget reports whether the flags name a target other than this
// machine.
func remoteTarget(c *cli.Context) bool {
	e, err := endpointFromFlags(c)
	return err == nil && e.Transport != "local"
}

// specFromFlags reads the session the flags describe and checks it, before
// anything is opened or created.
func specFromFlags(c *cli.Context) (journal.SessionSpec, error) {
	e, err := endpointFromFlags(c)
	if err != nil {
		return journal.SessionSpec{}, err
	}
	sp := journal.SessionSpec{Version: journal.SpecVersion, Endpoint: e}
	if has(c, "timeout") {
		if c.Duration("timeout") <= 0 {
			return sp, usagef("--timeout must be positive, got %s", c.Duration("timeout"))
		}
		if c.Int("max-output") <= 0 {
			return sp, usagef("--max-output must be positive, got %d", c.Int("max-output"))
		}
		sp.Dir, sp.Shell, sp.TTY = c.String("cwd"), c.String("shell"), c.Bool("tty")
		sp.TimeoutMS, sp.MaxOutputBytes = c.Duration("timeout").Milliseconds(), c.Int("max-output")
		sp.Raw, sp.NoRedact = c.Bool("raw"), c.Bool("no-redact")
		sp.Budget = safety.Budget{Mode: c.String("budget"), Lines: c.Int("lines"), Grep: c.String("grep"), Context: c.Int("context"), MaxChars: c.Int("max-chars")}
		if sp.Budget.Mode == "" && sp.Budget.Grep != "" {
			sp.Budget.Mode = "grep"
		}
		if sp.Policy, err = policyFromFlags(c); err != nil {
			return sp, err
		}
		switch sp.Enforce = c.String("enforce"); sp.Enforce {
		case "", session.EnforceExec, session.EnforceText:
		default:
			return sp, usagef("--enforce %s: want exec or text", sp.Enforce)
		}
		sp.SecretNames = c.StringSlice("secret")
	}
	if has(c, "workspace") {
		if ws := c.String("workspace"); ws != "" {
			if sp.Transport == "local" && !filepath.IsAbs(ws) {
				// Recorded as given, a relative workspace would mean another
				// directory to `execkit undo` run from elsewhere.
				abs, err := filepath.Abs(ws)
				if err != nil {
					return sp, usagef("--workspace %s: %v", ws, err)
				}
				ws = abs
			}
			sp.Workspace, sp.CheckpointDir, sp.Exclude = ws, c.String("checkpoint-dir"), c.StringSlice("exclude")
			sp.CheckpointMode = c.String("checkpoint")
		} else if c.IsSet("checkpoint") || c.IsSet("checkpoint-dir") || c.IsSet("exclude") {
			return sp, usagef("--checkpoint, --checkpoint-dir and --exclude need --workspace DIR")
		}
	}
	if err := target.Check(sp, nil); err != nil {
		return sp, err
	}
	if sp.Dir != "" && sp.Transport == "local" {
		if fi, err := os.Stat(sp.Dir); err != nil || !fi.IsDir() {
			return sp, usagef("--cwd %s: not a directory", sp.Dir)
		}
	}
	return sp, nil
}

// policyFromFlags reads --policy, --deny and --allow; the flags' lists add
// to the file's, and the default tripwire is under them all unless
// --no-tripwire. `--policy none` is no policy at all (nil), and may not be
// combined with lists.
func policyFromFlags(c *cli.Context) (*safety.Policy, error) {
	file := &safety.Policy{}
	if c.String("policy") == "none" {
		if len(c.StringSlice("allow"))+len(c.StringSlice("deny")) > 0 {
			return nil, usageError{"--policy none cannot be combined with --allow or --deny"}
		}
		return nil, nil
	}
	if f := c.String("policy"); f != "" {
		p, err := safety.LoadPolicy(f)
		if err != nil {
			return nil, usageError{err.Error()}
		}
		file = p
	}
	p, err := safety.NewPolicy(append(file.Allow, c.StringSlice("allow")...), append(file.Deny, c.StringSlice("deny")...), file.DenyPatterns)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	p.Tripwire = !c.Bool("no-tripwire")
	if p.Empty() {
		return nil, nil
	}
	return p, nil
}

// envFromFlags reads the operator's settings that are not part of a
// session's record: SSH keys and known_hosts, the password, the secrets'
// values.
func envFromFlags(c *cli.Context) (target.Env, error) {
	var env target.Env
	if has(c, "known-hosts") {
		env.SSH = target.SSHSettings{
			KeyDir: c.String("key-dir"), Identities: c.StringSlice("identity"), KnownHosts: c.StringSlice("known-hosts"),
			HostKeyMode: c.String("host-key-mode"), Fingerprints: c.StringSlice("fingerprint"), NoAgent: c.Bool("no-agent"),
			ConfigFile: c.String("ssh-config"), Warn: c.App.ErrWriter,
		}
		if name := c.String("password-env"); name != "" {
			v, ok := os.LookupEnv(name)
			if !ok || v == "" {
				return env, usagef("--password-env %s: no such environment variable (name the variable, not the password)", name)
			}
			env.SSH.Password = v
		}
		if err := env.SSH.Check(); err != nil {
			return env, err
		}
	}
	if has(c, "secret") {
		for _, name := range c.StringSlice("secret") {
			v, ok := os.LookupEnv(name)
			if !ok || v == "" {
				return env, usagef("--secret %s: no such environment variable (name the variable, not the value)", name)
			}
			env.Secrets = append(env.Secrets, safety.Secret{Name: name, Value: v})
		}
	}
	return env, nil
}
