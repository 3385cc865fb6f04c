package ssh

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	sshconfig "github.com/kevinburke/ssh_config"
)

// ParseTarget splits "user@host:port" (user and port optional; an IPv6
// address in brackets: "user@[::1]:2222") into its parts. A port of 0
// means the default.
func ParseTarget(s string) (user, host string, port int, err error) {
	if s == "" {
		return "", "", 0, fmt.Errorf("ssh: empty target")
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		user, s = s[:i], s[i+1:]
		if user == "" {
			return "", "", 0, fmt.Errorf("ssh: target %q: empty user before @", s)
		}
	}
	host = s
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", 0, fmt.Errorf("ssh: target %q: missing ]", s)
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", "", 0, fmt.Errorf("ssh: target %q: unexpected %q after ]", s, rest)
			}
			if port, err = parsePort(rest[1:]); err != nil {
				return "", "", 0, err
			}
		}
	case strings.Count(s, ":") == 1:
		h, p, _ := strings.Cut(s, ":")
		host = h
		if port, err = parsePort(p); err != nil {
			return "", "", 0, err
		}
	}
	if host == "" {
		return "", "", 0, fmt.Errorf("ssh: target %q: empty host", s)
	}
	if strings.ContainsAny(host, " \t/\\") {
		return "", "", 0, fmt.Errorf("ssh: target host %q is not a host name", host)
	}
	return user, host, port, nil
}

func parsePort(p string) (int, error) {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("ssh: port %q is not a number from 1 to 65535", p)
	}
	return n, nil
}

// hostPort joins host and port for dialing and for known_hosts.
func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// Alias is what an OpenSSH client configuration file says of one host
// name: the fields execkit uses. Empty fields were not set.
type Alias struct {
	HostName      string
	User          string
	Port          int
	IdentityFiles []string
}

// LookupAlias reads an OpenSSH client configuration file (~/.ssh/config)
// with github.com/kevinburke/ssh_config and returns what it says of name:
// like ssh, the first value given for each field, from the Host and Match
// (Host, all) blocks that apply, following Include. A missing file is no
// error. A host reached through ProxyJump or ProxyCommand is an error:
// execkit would otherwise connect to it directly, which is not what the
// configuration says.
func LookupAlias(file, name string) (Alias, error) {
	var a Alias
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return a, nil
	}
	if err != nil {
		return a, fmt.Errorf("ssh: config: %w", err)
	}
	cfg, err := sshconfig.DecodeBytes(b)
	if err != nil {
		return a, fmt.Errorf("ssh: config %s: %w", file, err)
	}
	get := func(key string) (string, error) {
		v, err := cfg.Get(name, key)
		if err != nil {
			return "", fmt.Errorf("ssh: config %s: %s for %s: %w", file, key, name, err)
		}
		return v, nil
	}
	for _, key := range []string{"ProxyJump", "ProxyCommand"} {
		if v, err := get(key); err != nil {
			return a, err
		} else if v != "" && !strings.EqualFold(v, "none") {
			return a, fmt.Errorf("ssh: config %s: %s is reached through %s %q, which execkit does not follow; give a host it can reach directly", file, name, key, v)
		}
	}
	if a.HostName, err = get("HostName"); err != nil {
		return a, err
	}
	a.HostName = strings.ReplaceAll(a.HostName, "%h", name)
	if a.User, err = get("User"); err != nil {
		return a, err
	}
	port, err := get("Port")
	if err != nil {
		return a, err
	}
	if port != "" {
		if a.Port, err = parsePort(port); err != nil {
			return a, fmt.Errorf("ssh: config %s: Port %q for %s: %w", file, port, name, err)
		}
	}
	if a.IdentityFiles, err = cfg.GetAll(name, "IdentityFile"); err != nil {
		return a, fmt.Errorf("ssh: config %s: IdentityFile for %s: %w", file, name, err)
	}
	if len(a.IdentityFiles) == 0 {
		a.IdentityFiles = nil
	}
	return a, nil
}
