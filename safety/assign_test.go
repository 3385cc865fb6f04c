package safety

import (
	"strings"
	"testing"
)

// The whole value of an assignment is redacted, whatever punctuation it
// holds, and names that only resemble credential names are left alone.
func TestAssignments(t *testing.T) {
	r := NewRedactor(nil)
	const R = "[REDACTED:password-assignment]"
	redacted := []struct{ in, want string }{
		{"DB_PASSWORD=abc;defghijkl", "DB_PASSWORD=" + R},
		{"POSTGRES_PASSWORD=^;QNHTVN@Z!.ykK*", "POSTGRES_PASSWORD=" + R},
		{"export MYSQL_PWD='a b;c\"d|e'", "export MYSQL_PWD='" + R + "'"},
		{`{"password": "pa\"ss,wo}rd", "user": "bob"}`, `{"password": "` + R + `", "user": "bob"}`},
		{"  db_password: s3cr3t p@ss # the old one", "  db_password: " + R + " # the old one"},
		{"- secret_key: k#not-a-comment", "- secret_key: " + R},
		{"connecting with password=hunter2!; host=db", "connecting with password=" + R + "; host=db"},
		{"dbPassword: 'Tr0ub4dor&3'", "dbPassword: '" + R + "'"},
		{"SECRET_KEY_BASE=0123456789abcdef", "SECRET_KEY_BASE=" + R},
		{"{ api-key => 9(abc)def}", "{ api-key => " + R + "}"},
		{`"env": ["DB_PASS=qwe;rty,uio", "A=1"]`, `"env": ["DB_PASS=` + R + `", "A=1"]`},
		{"token=\x1b[31mabcdefgh\x1b[0m", "token=\x1b[31m" + R + "\x1b[0m"},
		{"token=abcd\x1b[1mefgh\x1b[0mijkl", "token=" + R},
		{"PASSWORD=a\\\"bcdef", "PASSWORD=" + R},
		{"smtp: DB_PASS=hunter22 next", "smtp: DB_PASS=" + R + " next"},
		{`echo 'secret = '\''abcdefgh'\'''`, `echo 'secret = '\''` + R + `'\'''`},
		{`{"auths": {"ghcr.io": {"auth": "dXNlcjpwYXNzd29yZA=="}}}`, `{"auths": {"ghcr.io": {"auth": "` + R + `"}}}`},
		{"//registry.npmjs.org/:_authToken=0000-1111-2222", "//registry.npmjs.org/:_authToken=" + R},
		{"machine h login u password hunter22", "machine h login u password " + R},
		{"machine h\n\tlogin u\n\tpassword \"pa ss wd\"", "machine h\n\tlogin u\n\tpassword \"" + R + "\""},
	}
	for _, c := range redacted {
		if got := r.Redact(c.in); got != c.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	kept := []string{
		`"js-tokens": "^4.0.0",`,
		`"@csstools/css-tokenizer": "^2.1.1",`,
		`token_type: Bearer`,
		`tokenizer=bert-base-uncased`,
		`secret_santa: enabled`,
		`declare -x PWD="/tmp/tmp.Zx81kQ"`,
		`declare -x OLDPWD="/home/someone/src"`,
		`PWD=/home/someone/src`,
		`bypass=everything`,
		`compass: northwest`,
		`tests passed: 12345678`,
		`password_policy: minimum-length-12`,
		`token := os.Getenv("GITHUB_TOKEN")`,
		`password = getpass.getpass()`,
		`Token::new(span, kind)`,
		`password: null`,
		`password: ${DB_PASSWORD}`,
		`password: |`,
		"golang.org/x/crypto v0.1.0 h1:MDRAIl0xIo9Io2xV6u26GPjxXXJaKpPwdTOKENs5x0Y=\ngolang.org/x/crypto v0.1.0/go.mod h1:RecgLatLF4+eUMCP1PoPZQb+cVrJcOPbHkTkbkB9sbw=",
		`tokens_used=123456`,
		`max_tokens: 4096000`,
		`--- PASS: TestAPIKeyHeader (0.70s)`,
		`pass: 1234567`,
		`        "semver-passwd": "~17.4.18"`,
		`packagefile github.com/sethvargo/go-password=/root/.cache/go-build/17/0337-d`,
		"token_type: Bearer\nTHISISALONGBASE64LINEOFTEXT0123456789",
	}
	for _, in := range kept {
		if got := r.Redact(in); got != in {
			t.Errorf("Redact(%q) = %q, want it unchanged", in, got)
		}
	}
	// Every split of a redacted line across writes gives the same result.
	for _, c := range redacted {
		for cut := 1; cut < len(c.in); cut++ {
			var out strings.Builder
			st := r.Stream(&out)
			st.Write([]byte(c.in[:cut]))
			st.Write([]byte(c.in[cut:]))
			st.Close()
			if out.String() != c.want {
				t.Fatalf("%q split at %d: %q", c.in, cut, out.String())
			}
		}
	}
}
