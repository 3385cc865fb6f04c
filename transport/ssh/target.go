package ssh

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
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
// and returns what it says of name. Like ssh, it takes the first value
// given for each field, from the Host blocks whose patterns match name
// (patterns with * and ?, negated with !). A missing file is no error.
// Include and Match blocks are not followed.
func LookupAlias(file, name string) (Alias, error) {
	var a Alias
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return a, nil
	}
	if err != nil {
		return a, fmt.Errorf("ssh: config: %w", err)
	}
	defer f.Close()
	active := true // lines before any Host apply to every host
	sc := bufio.NewScanner(f)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, val := splitConfigLine(line)
		switch strings.ToLower(key) {
		case "host":
			active = hostMatches(strings.Fields(val), name)
		case "match":
			active = false
		case "hostname":
			if active && a.HostName == "" {
				a.HostName = val
			}
		case "user":
			if active && a.User == "" {
				a.User = val
			}
		case "port":
			if active && a.Port == 0 {
				p, err := parsePort(val)
				if err != nil {
					return a, fmt.Errorf("ssh: config %s:%d: %w", file, lineNo, err)
				}
				a.Port = p
			}
		case "identityfile":
			if active {
				a.IdentityFiles = append(a.IdentityFiles, val)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return a, fmt.Errorf("ssh: config %s: %w", file, err)
	}
	if a.HostName != "" {
		a.HostName = strings.ReplaceAll(a.HostName, "%h", name)
	}
	return a, nil
}

// splitConfigLine splits "Key value", "Key=value" or "Key = value", and
// removes quotes around the value.
func splitConfigLine(line string) (string, string) {
	i := strings.IndexAny(line, " \t=")
	if i < 0 {
		return line, ""
	}
	key := line[:i]
	val := strings.TrimLeft(line[i:], " \t")
	val = strings.TrimPrefix(val, "=")
	val = strings.TrimSpace(val)
	if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
		val = val[1 : len(val)-1]
	}
	return key, val
}

// hostMatches applies ssh_config Host patterns: a match on any positive
// pattern and on no negated one.
func hostMatches(patterns []string, name string) bool {
	matched := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		ok, err := path.Match(p, name)
		if err != nil || !ok {
			continue
		}
		if neg {
			return false
		}
		matched = true
	}
	return matched
}
