package session

import (
	"fmt"
	"strconv"
	"strings"
)

// parseExportList parses the output of `export -p` from bash
// (declare -x NAME="value", NAME=$'value') or from a POSIX sh such as dash or
// busybox (export NAME='value'). It returns "NAME=value" strings in order.
// Names exported without a value and arrays are skipped.
func parseExportList(s string) ([]string, error) {
	var env []string
	p := &shellWords{s: s}
	for {
		p.skipSpace()
		if p.eof() {
			return env, nil
		}
		kw := p.word()
		switch kw {
		case "declare", "typeset":
			p.skipBlanks()
			flags := p.word()
			if !strings.HasPrefix(flags, "-") {
				return env, fmt.Errorf("export list: bad flags %q", flags)
			}
			if strings.ContainsAny(flags, "aA") { // arrays are not exported
				p.skipLine()
				continue
			}
		case "export":
		default:
			return env, fmt.Errorf("export list: unexpected %q", kw)
		}
		p.skipBlanks()
		name := p.name()
		if name == "" {
			return env, fmt.Errorf("export list: missing name after %q", kw)
		}
		if p.peek() != '=' {
			p.skipLine()
			continue
		}
		p.i++
		val, err := p.value()
		if err != nil {
			return env, fmt.Errorf("export list: %s: %w", name, err)
		}
		env = append(env, name+"="+val)
	}
}

type shellWords struct {
	s string
	i int
}

func (p *shellWords) eof() bool { return p.i >= len(p.s) }

func (p *shellWords) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *shellWords) skipSpace() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\n' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *shellWords) skipBlanks() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *shellWords) skipLine() {
	for !p.eof() && p.s[p.i] != '\n' {
		p.i++
	}
}

func (p *shellWords) word() string {
	j := p.i
	for !p.eof() && p.s[p.i] != ' ' && p.s[p.i] != '\t' && p.s[p.i] != '\n' {
		p.i++
	}
	return p.s[j:p.i]
}

func (p *shellWords) name() string {
	j := p.i
	for !p.eof() {
		c := p.s[p.i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || p.i > j && c >= '0' && c <= '9' {
			p.i++
			continue
		}
		break
	}
	return p.s[j:p.i]
}

// value reads one shell word made of quoted and unquoted parts, up to an
// unquoted blank or newline.
func (p *shellWords) value() (string, error) {
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			return b.String(), nil
		case c == '\'':
			end := strings.IndexByte(p.s[p.i+1:], '\'')
			if end < 0 {
				return "", fmt.Errorf("unterminated single quote")
			}
			b.WriteString(p.s[p.i+1 : p.i+1+end])
			p.i += end + 2
		case c == '"':
			if err := p.doubleQuoted(&b); err != nil {
				return "", err
			}
		case c == '$' && p.i+1 < len(p.s) && p.s[p.i+1] == '\'':
			p.i += 2
			if err := p.ansiC(&b); err != nil {
				return "", err
			}
		case c == '\\' && p.i+1 < len(p.s):
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return b.String(), nil
}

func (p *shellWords) doubleQuoted(b *strings.Builder) error {
	p.i++
	for !p.eof() {
		c := p.s[p.i]
		switch c {
		case '"':
			p.i++
			return nil
		case '\\':
			if p.i+1 < len(p.s) && strings.IndexByte("$`\"\\\n", p.s[p.i+1]) >= 0 {
				b.WriteByte(p.s[p.i+1])
				p.i += 2
				continue
			}
		}
		b.WriteByte(c)
		p.i++
	}
	return fmt.Errorf("unterminated double quote")
}

func (p *shellWords) ansiC(b *strings.Builder) error {
	for !p.eof() {
		c := p.s[p.i]
		if c == '\'' {
			p.i++
			return nil
		}
		if c != '\\' || p.i+1 >= len(p.s) {
			b.WriteByte(c)
			p.i++
			continue
		}
		e := p.s[p.i+1]
		p.i += 2
		switch e {
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'e', 'E':
			b.WriteByte(27)
		case 'f':
			b.WriteByte(12)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte(11)
		case 'c':
			if !p.eof() {
				b.WriteByte(p.s[p.i] & 0x1f)
				p.i++
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := p.i - 1
			for p.i < len(p.s) && p.i-j < 3 && p.s[p.i] >= '0' && p.s[p.i] <= '7' {
				p.i++
			}
			v, _ := strconv.ParseUint(p.s[j:p.i], 8, 16)
			b.WriteByte(byte(v))
		case 'x', 'u', 'U':
			max := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			j := p.i
			for p.i < len(p.s) && p.i-j < max && isHex(p.s[p.i]) {
				p.i++
			}
			if p.i == j {
				b.WriteByte('\\')
				b.WriteByte(e)
				continue
			}
			v, _ := strconv.ParseUint(p.s[j:p.i], 16, 32)
			if e == 'x' {
				b.WriteByte(byte(v))
			} else {
				b.WriteRune(rune(v))
			}
		default:
			b.WriteByte(e)
		}
	}
	return fmt.Errorf("unterminated $'...' quote")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
