package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// setupFile is where a client reads its configuration by default, for
// setup --write; "" when setup cannot tell.
func setupFile(client string) string {
	home, _ := os.UserHomeDir()
	config, _ := os.UserConfigDir() // ~/.config, ~/Library/Application Support, %AppData%
	switch client {
	case "claude":
		return ".mcp.json"
	case "claude-desktop":
		if runtime.GOOS == "linux" {
			return filepath.Join(home, ".config", "Claude", "claude_desktop_config.json")
		}
		return filepath.Join(config, "Claude", "claude_desktop_config.json")
	case "cursor":
		return filepath.Join(home, ".cursor", "mcp.json")
	case "windsurf":
		return filepath.Join(home, ".codeium", "windsurf", "mcp_config.json")
	case "gemini":
		return filepath.Join(home, ".gemini", "settings.json")
	case "vscode":
		return filepath.Join(".vscode", "mcp.json")
	case "zed":
		return filepath.Join(home, ".config", "zed", "settings.json")
	case "codex":
		return filepath.Join(home, ".codex", "config.toml")
	}
	return ""
}

// writeSetup merges a client's configuration snippet into file, keeping
// everything else in it, after copying the file to a backup; it returns
// the backup's name ("" when the file is new). A file setup cannot merge
// into without losing something (JSON with comments, not an object) is
// left alone, with an error that says so.
func writeSetup(file string, snippet []byte, isTOML bool) (string, error) {
	old, err := os.ReadFile(file)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	merged := snippet
	if exists {
		if isTOML {
			merged = mergeTOMLTable(old, snippet, "mcp_servers.execkit")
		} else if merged, err = mergeJSON(old, snippet); err != nil {
			return "", fmt.Errorf("%s: %w; nothing was changed: add the configuration by hand (execkit setup prints it)", file, err)
		}
	}
	if exists && bytes.Equal(merged, old) {
		return "", nil // already there: nothing to write, nothing to back up
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", err
	}
	mode := os.FileMode(0o600)
	backup := ""
	if exists {
		if fi, err := os.Stat(file); err == nil {
			mode = fi.Mode().Perm()
		}
		if backup, err = writeBackup(file, old, mode); err != nil {
			return "", fmt.Errorf("backup: %w", err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(merged); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return backup, os.Rename(tmp.Name(), file)
}

// writeBackup keeps b in a new file next to file, named by the time; an
// earlier backup is never overwritten.
func writeBackup(file string, b []byte, mode os.FileMode) (string, error) {
	base := file + ".bak-" + time.Now().Format("20060102-150405")
	for i := 0; i < 1000; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return "", err
		}
		return name, f.Close()
	}
	return "", errors.New("too many backups with the same time")
}

// member is one name and value of a JSON object, in file order.
type member struct {
	name  string
	value json.RawMessage
}

// readObject reads a JSON object's members in order.
func readObject(b []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not valid JSON (comments and trailing commas are not read): %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not valid JSON (comments and trailing commas are not read): %w", err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("not valid JSON (comments and trailing commas are not read): %w", err)
		}
		out = append(out, member{tok.(string), v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not valid JSON: more after the object")
	}
	return out, nil
}

// writeObject writes members as a JSON object.
func writeObject(ms []member) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(m.name)
		b.Write(name)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// set puts value under name, in place when name is there, else last.
func set(ms []member, name string, value json.RawMessage) []member {
	for i := range ms {
		if ms[i].name == name {
			ms[i].value = value
			return ms
		}
	}
	return append(ms, member{name, value})
}

// mergeJSON puts the snippet's servers (one object holding one object of
// servers) into the file's, in file order.
func mergeJSON(old, snippet []byte) ([]byte, error) {
	file, err := readObject(old)
	if err != nil {
		return nil, err
	}
	top, err := readObject(snippet)
	if err != nil || len(top) != 1 {
		return nil, fmt.Errorf("internal: snippet %s", snippet)
	}
	servers, err := readObject(top[0].value)
	if err != nil {
		return nil, fmt.Errorf("internal: snippet %s", snippet)
	}
	var have []member
	for _, m := range file {
		if m.name == top[0].name {
			if have, err = readObject(m.value); err != nil {
				return nil, fmt.Errorf("%q: %w", m.name, err)
			}
		}
	}
	for _, s := range servers {
		have = set(have, s.name, s.value)
	}
	file = set(file, top[0].name, writeObject(have))
	var out bytes.Buffer
	if err := json.Indent(&out, writeObject(file), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// mergeTOMLTable replaces the table named table (and its sub-tables) in a
// TOML file with the snippet, or appends the snippet; every other line,
// comments included, stays as it was.
func mergeTOMLTable(old, snippet []byte, table string) []byte {
	lines := strings.SplitAfter(string(old), "\n")
	var out strings.Builder
	in, replaced := false, false
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			name := strings.Trim(strings.TrimSpace(strings.SplitN(t, "#", 2)[0]), "[] ")
			in = name == table || strings.HasPrefix(name, table+".")
			if in && !replaced {
				out.Write(snippet)
				out.WriteString("\n")
				replaced = true
			}
		}
		if !in {
			out.WriteString(l)
		}
	}
	if !replaced {
		s := out.String()
		if s != "" && !strings.HasSuffix(s, "\n") {
			out.WriteString("\n")
		}
		if s != "" {
			out.WriteString("\n")
		}
		out.Write(snippet)
	}
	return []byte(out.String())
}
