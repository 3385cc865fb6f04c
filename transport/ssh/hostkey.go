package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	skknownhosts "github.com/skeema/knownhosts"
	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyMode says how a server's host key is checked.
type HostKeyMode string

// The host key modes. In every mode but Insecure a key that differs from
// the one on record is refused.
const (
	// Strict accepts only a key listed for the host in known_hosts.
	Strict HostKeyMode = "strict"
	// AcceptNew pins the key of a host known_hosts does not list (trust on
	// first use), then enforces it like Strict.
	AcceptNew HostKeyMode = "accept-new"
	// Fingerprint accepts only a key whose SHA256 fingerprint is one of
	// Config.Fingerprints; known_hosts is consulted for @revoked only.
	Fingerprint HostKeyMode = "fingerprint"
	// Insecure accepts any key and prints a warning. For throwaway test
	// hosts only.
	Insecure HostKeyMode = "insecure"
)

// ParseHostKeyMode checks a mode name.
func ParseHostKeyMode(s string) (HostKeyMode, error) {
	switch m := HostKeyMode(s); m {
	case Strict, AcceptNew, Fingerprint, Insecure:
		return m, nil
	case "":
		return Strict, nil
	}
	return "", fmt.Errorf("ssh: host key mode %q: want strict, accept-new, fingerprint or insecure", s)
}

// HostKeyError is a refused host key. Errors.Is matches it against
// ErrHostKeyChanged, ErrHostKeyUnknown and ErrHostKeyRevoked.
type HostKeyError struct {
	Host    string // host or [host]:port, as known_hosts writes it
	Verdict error  // one of the ErrHostKey… values
	Offered string // "TYPE SHA256:…" of the key the server offered
	Known   []string
	Detail  string
}

// Verdicts of a refused host key.
var (
	ErrHostKeyChanged = errors.New("host key changed")
	ErrHostKeyUnknown = errors.New("host key unknown")
	ErrHostKeyRevoked = errors.New("host key revoked")
)

func (e *HostKeyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ssh: %s: %v: the server offered %s", e.Host, e.Verdict, e.Offered)
	if len(e.Known) > 0 {
		fmt.Fprintf(&b, "; on record: %s", strings.Join(e.Known, ", "))
	}
	if e.Detail != "" {
		b.WriteString("; " + e.Detail)
	}
	return b.String()
}

func (e *HostKeyError) Unwrap() error { return e.Verdict }

// describeKey prints a key as "TYPE SHA256:…", the way ssh-keygen -l does.
func describeKey(k xssh.PublicKey) string {
	return k.Type() + " " + xssh.FingerprintSHA256(k)
}

// keyAlgorithms lists the host key algorithms that produce keys of a type.
func keyAlgorithms(keyType string) []string {
	switch keyType {
	case xssh.KeyAlgoRSA:
		return []string{xssh.KeyAlgoRSASHA512, xssh.KeyAlgoRSASHA256, xssh.KeyAlgoRSA}
	case xssh.KeyAlgoED25519, xssh.KeyAlgoECDSA256, xssh.KeyAlgoECDSA384, xssh.KeyAlgoECDSA521:
		return []string{keyType}
	}
	return nil
}

// keyTypeOrder is the preference among key types when nothing is known.
var keyTypeOrder = []string{xssh.KeyAlgoED25519, xssh.KeyAlgoECDSA256, xssh.KeyAlgoECDSA384, xssh.KeyAlgoECDSA521, xssh.KeyAlgoRSA}

// hostKeyChecker decides on the key a server offers.
type hostKeyChecker struct {
	mode    HostKeyMode
	files   []string // known_hosts files; the first is where AcceptNew writes
	pins    []string
	hashNew bool
	warn    io.Writer
	host    string // the address as dialed, host:port
}

// db reads the known_hosts files that exist; nil when there are none.
func (c *hostKeyChecker) db() (*skknownhosts.HostKeyDB, error) {
	var files []string
	for _, f := range c.files {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		} else if !os.IsNotExist(err) {
			return nil, fmt.Errorf("ssh: known_hosts: %w", err)
		}
	}
	if len(files) == 0 {
		return nil, nil
	}
	db, err := skknownhosts.NewDB(files...)
	if err != nil {
		return nil, fmt.Errorf("ssh: known_hosts: %w", err)
	}
	return db, nil
}

// callback is the known_hosts check of the files as they are now.
func (c *hostKeyChecker) callback() (xssh.HostKeyCallback, error) {
	db, err := c.db()
	if err != nil || db == nil {
		return func(string, net.Addr, xssh.PublicKey) error { return &knownhosts.KeyError{} }, err
	}
	return db.HostKeyCallback(), nil
}

// algorithms orders the host key algorithms as OpenSSH does: the types
// known_hosts holds for the host first, strongest first (not in the order
// of the file), then the others. Without this a server holding several key
// types may present one known_hosts does not list, which would look like
// a changed key; and ordering by strength means that when known_hosts has
// a key of the server's preferred type that no longer matches, that key is
// the one offered, and the connection is refused, even if another type
// on record would still match.
func (c *hostKeyChecker) algorithms() ([]string, error) {
	if c.mode == Insecure || c.mode == Fingerprint {
		return nil, nil
	}
	db, err := c.db()
	if err != nil || db == nil {
		return nil, err
	}
	knownType := map[string]bool{}
	for _, k := range db.HostKeys(c.host) {
		if !k.Cert {
			knownType[k.Type()] = true
		}
	}
	if len(knownType) == 0 {
		return nil, nil
	}
	var algos []string
	for _, known := range []bool{true, false} {
		for _, t := range keyTypeOrder {
			if knownType[t] == known {
				algos = append(algos, keyAlgorithms(t)...)
			}
		}
	}
	return algos, nil
}

// check is the HostKeyCallback.
func (c *hostKeyChecker) check(_ string, remote net.Addr, key xssh.PublicKey) error {
	if c.mode == Insecure {
		fmt.Fprintf(c.warn, "execkit: WARNING: host key of %s NOT verified (host key mode insecure): %s\n", c.host, describeKey(key))
		return nil
	}
	cb, err := c.callback()
	if err != nil {
		return err
	}
	verr := cb(c.host, remote, key)
	var revoked *knownhosts.RevokedError
	if errors.As(verr, &revoked) {
		return &HostKeyError{Host: knownhosts.Normalize(c.host), Verdict: ErrHostKeyRevoked, Offered: describeKey(key),
			Detail: fmt.Sprintf("marked @revoked in %s:%d", revoked.Revoked.Filename, revoked.Revoked.Line)}
	}
	if c.mode == Fingerprint {
		fp := xssh.FingerprintSHA256(key)
		for _, p := range c.pins {
			if p == fp {
				return nil
			}
		}
		return &HostKeyError{Host: knownhosts.Normalize(c.host), Verdict: ErrHostKeyChanged, Offered: describeKey(key),
			Known: append([]string(nil), c.pins...), Detail: "the fingerprint does not match the pinned one"}
	}
	if verr == nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if !errors.As(verr, &ke) {
		return fmt.Errorf("ssh: %s: checking the host key: %w", c.host, verr)
	}
	if len(ke.Want) == 0 {
		if c.mode == AcceptNew {
			return c.pin(remote, key)
		}
		return &HostKeyError{Host: knownhosts.Normalize(c.host), Verdict: ErrHostKeyUnknown, Offered: describeKey(key),
			Detail: "not in " + strings.Join(c.files, ", ") + " (host key mode strict; add the key with ssh-keyscan, or use accept-new or a fingerprint pin)"}
	}
	return c.mismatch(key, ke.Want)
}

// mismatch builds the error for a host whose key on record differs from
// the one offered.
func (c *hostKeyChecker) mismatch(key xssh.PublicKey, want []knownhosts.KnownKey) error {
	e := &HostKeyError{Host: knownhosts.Normalize(c.host), Verdict: ErrHostKeyChanged, Offered: describeKey(key)}
	sameType := false
	for _, k := range want {
		e.Known = append(e.Known, fmt.Sprintf("%s (%s:%d)", describeKey(k.Key), k.Filename, k.Line))
		sameType = sameType || k.Key.Type() == key.Type()
	}
	sort.Strings(e.Known)
	if sameType {
		e.Detail = "the key differs from the one on record: someone may be intercepting the connection, or the host was reinstalled; if you trust the new key, remove the old line with ssh-keygen -R"
	} else {
		e.Detail = "the host is on record only with other key types, and the server did not offer them"
	}
	return e
}

// pin appends the key for the host to the first known_hosts file, under an
// exclusive lock, after reading the files again: when another process
// pinned a key meanwhile, that key is enforced instead.
func (c *hostKeyChecker) pin(remote net.Addr, key xssh.PublicKey) error {
	file := c.files[0]
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("ssh: known_hosts: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("ssh: known_hosts: %w", err)
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return fmt.Errorf("ssh: known_hosts: lock: %w", err)
	}
	defer unlockFile(f)
	cb, err := c.callback()
	if err != nil {
		return err
	}
	verr := cb(c.host, remote, key)
	var ke *knownhosts.KeyError
	switch {
	case verr == nil:
		return nil // pinned by someone else, the same key
	case errors.As(verr, &ke) && len(ke.Want) > 0:
		return c.mismatch(key, ke.Want)
	case !errors.As(verr, &ke):
		return c.check("", remote, key)
	}
	name := knownhosts.Normalize(c.host)
	if c.hashNew {
		name = knownhosts.HashHostname(name)
	}
	line := knownhosts.Line([]string{name}, key) + "\n"
	if st, err := f.Stat(); err == nil && st.Size() > 0 && !endsWithNewline(file) {
		line = "\n" + line
	}
	if _, err := f.WriteString(line); err != nil {
		return fmt.Errorf("ssh: known_hosts: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("ssh: known_hosts: %w", err)
	}
	fmt.Fprintf(c.warn, "execkit: pinned the host key of %s: %s (in %s)\n", knownhosts.Normalize(c.host), describeKey(key), file)
	return nil
}

func endsWithNewline(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return true
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return true
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, st.Size()-1); err != nil {
		return true
	}
	return bytes.Equal(b, []byte("\n"))
}

// fakeAddr stands for the remote address when none is known yet.
type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }
