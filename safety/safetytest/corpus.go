// Package safetytest holds the redaction corpus: generated credentials of
// every kind the redactor knows, in realistic context, and negatives that
// must survive. Other packages' tests use it to check that no secret reaches
// what they store.
package safetytest

import (
	"encoding/base64"
	"fmt"
	"math/rand"
	"strings"
)

const (
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerC = "abcdefghijklmnopqrstuvwxyz"
	digits = "0123456789"
	hexd   = "0123456789abcdef"
	alnum  = upper + lowerC + digits
	b64u   = alnum + "_-"
)

func rs(rng *rand.Rand, set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[rng.Intn(len(set))]
	}
	return string(b)
}

// Positive is one credential in a line of context; Secret is the part that
// must not survive redaction. When the context cuts the secret in two (an
// escape sequence inside it), Pieces are the parts, none of which may
// survive either.
type Positive struct {
	Kind, Line, Secret string
	Pieces             []string
}

// Leaks reports whether the secret, or a piece of it, is in s.
func (p Positive) Leaks(s string) bool {
	if strings.Contains(s, p.Secret) {
		return true
	}
	for _, piece := range p.Pieces {
		if strings.Contains(s, piece) {
			return true
		}
	}
	return false
}

// generators make credentials of each kind in the providers' shapes, with
// random characters: none of them is a real secret.
var generators = map[string]func(r *rand.Rand) (token, secret string){
	"aws-access-key-id": func(r *rand.Rand) (string, string) { t := "AKIA" + rs(r, upper+digits, 16); return t, t },
	"aws-secret-access-key": func(r *rand.Rand) (string, string) {
		s := rs(r, alnum+"/+", 40)
		return "aws_secret_access_key = " + s, s
	},
	"github-token": func(r *rand.Rand) (string, string) {
		t := "gh" + string("pousr"[r.Intn(5)]) + "_" + rs(r, alnum, 36)
		return t, t
	},
	"github-fine-grained-token": func(r *rand.Rand) (string, string) { t := "github_pat_" + rs(r, alnum+"_", 82); return t, t },
	"gitlab-token":              func(r *rand.Rand) (string, string) { t := "glpat-" + rs(r, b64u, 20); return t, t },
	"slack-token": func(r *rand.Rand) (string, string) {
		t := "xoxb-" + rs(r, digits, 12) + "-" + rs(r, digits, 13) + "-" + rs(r, alnum, 24)
		return t, t
	},
	"slack-webhook": func(r *rand.Rand) (string, string) {
		t := "https://hooks.slack.com/services/T" + rs(r, upper+digits, 8) + "/B" + rs(r, upper+digits, 8) + "/" + rs(r, alnum, 24)
		return t, t[len(t)-24:]
	},
	"stripe-key":          func(r *rand.Rand) (string, string) { t := "sk_live_" + rs(r, alnum, 24+r.Intn(70)); return t, t },
	"anthropic-api-key":   func(r *rand.Rand) (string, string) { t := "sk-ant-api03-" + rs(r, b64u, 93) + "AA"; return t, t },
	"openai-api-key":      func(r *rand.Rand) (string, string) { t := "sk-proj-" + rs(r, b64u, 120); return t, t },
	"google-api-key":      func(r *rand.Rand) (string, string) { t := "AIza" + rs(r, b64u, 35); return t, t },
	"google-oauth-secret": func(r *rand.Rand) (string, string) { t := "GOCSPX-" + rs(r, b64u, 28); return t, t },
	"jwt": func(r *rand.Rand) (string, string) {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
		p := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"sub":"%s","iat":%d}`, rs(r, alnum, 12), 1700000000+r.Intn(1e6))))
		t := h + "." + p + "." + rs(r, b64u, 43)
		return t, t
	},
	"npm-token":          func(r *rand.Rand) (string, string) { t := "npm_" + rs(r, alnum, 36); return t, t },
	"pypi-token":         func(r *rand.Rand) (string, string) { t := "pypi-AgEIcHlwaS5vcmc" + rs(r, b64u, 70); return t, t },
	"dockerhub-token":    func(r *rand.Rand) (string, string) { t := "dckr_pat_" + rs(r, b64u, 27); return t, t },
	"sendgrid-api-key":   func(r *rand.Rand) (string, string) { t := "SG." + rs(r, b64u, 22) + "." + rs(r, b64u, 43); return t, t },
	"twilio-api-key":     func(r *rand.Rand) (string, string) { t := "SK" + rs(r, hexd, 32); return t, t },
	"mailgun-api-key":    func(r *rand.Rand) (string, string) { t := "key-" + rs(r, hexd, 32); return t, t },
	"huggingface-token":  func(r *rand.Rand) (string, string) { t := "hf_" + rs(r, upper+lowerC, 34); return t, t },
	"digitalocean-token": func(r *rand.Rand) (string, string) { t := "dop_v1_" + rs(r, hexd, 64); return t, t },
	"shopify-token":      func(r *rand.Rand) (string, string) { t := "shpat_" + rs(r, hexd, 32); return t, t },
	"discord-webhook": func(r *rand.Rand) (string, string) {
		s := rs(r, b64u, 68)
		return "https://discord.com/api/webhooks/" + rs(r, digits, 18) + "/" + s, s
	},
	"telegram-bot-token": func(r *rand.Rand) (string, string) {
		t := rs(r, digits, 9) + ":AA" + rs(r, b64u, 33)
		return "https://api.telegram.org/bot" + t + "/sendMessage", t
	},
	"azure-storage-key": func(r *rand.Rand) (string, string) {
		k := rs(r, alnum+"+/", 86) + "=="
		return "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + k + ";EndpointSuffix=core.windows.net", k
	},
	"square-token":     func(r *rand.Rand) (string, string) { t := "sq0atp-" + rs(r, b64u, 22); return t, t },
	"linear-api-key":   func(r *rand.Rand) (string, string) { t := "lin_api_" + rs(r, alnum, 40); return t, t },
	"vault-token":      func(r *rand.Rand) (string, string) { t := "hvs." + rs(r, b64u, 90); return t, t },
	"doppler-token":    func(r *rand.Rand) (string, string) { t := "dp.pt." + rs(r, alnum, 43); return t, t },
	"databricks-token": func(r *rand.Rand) (string, string) { t := "dapi" + rs(r, hexd, 32); return t, t },
	"grafana-token": func(r *rand.Rand) (string, string) {
		t := "glsa_" + rs(r, alnum, 32) + "_" + rs(r, hexd, 8)
		return t, t
	},
	"atlassian-api-token": func(r *rand.Rand) (string, string) { t := "ATATT3" + rs(r, b64u+"=", 186); return t, t },
	"age-secret-key":      func(r *rand.Rand) (string, string) { t := "AGE-SECRET-KEY-1" + rs(r, upper+digits, 58); return t, t },
	"pulumi-token":        func(r *rand.Rand) (string, string) { t := "pul-" + rs(r, hexd, 40); return t, t },
	"postman-api-key": func(r *rand.Rand) (string, string) {
		t := "PMAK-" + rs(r, hexd, 24) + "-" + rs(r, hexd, 34)
		return t, t
	},
	"newrelic-key":      func(r *rand.Rand) (string, string) { t := "NRAK-" + rs(r, upper+digits, 27); return t, t },
	"heroku-api-key":    func(r *rand.Rand) (string, string) { t := "HRKU-" + rs(r, b64u, 60); return t, t },
	"mailchimp-api-key": func(r *rand.Rand) (string, string) { t := rs(r, hexd, 32) + "-us" + rs(r, digits, 2); return t, t },
	"sentry-token":      func(r *rand.Rand) (string, string) { t := "sntrys_" + rs(r, alnum+"+/", 80); return t, t },
	"planetscale-token": func(r *rand.Rand) (string, string) { t := "pscale_tkn_" + rs(r, alnum, 43); return t, t },
	"url-password": func(r *rand.Rand) (string, string) {
		p := rs(r, alnum+"!%", 14)
		return "postgres://app:" + p + "@db.internal:5432/main", p
	},
	"authorization-header": func(r *rand.Rand) (string, string) {
		t := rs(r, alnum, 40)
		return "Authorization: token " + t, t
	},
	"bearer-token": func(r *rand.Rand) (string, string) {
		t := rs(r, alnum+"._-", 48)
		return "using Bearer " + t + " for the call", t
	},
	"password-assignment": func(r *rand.Rand) (string, string) {
		p := rs(r, alnum+"!@#%^", 16)
		keys := []string{"password", "DB_PASSWORD", "client_secret", "api_key", "SMTP_PASSWD", "secret_token", "private_key"}
		return keys[r.Intn(len(keys))] + "=" + p, p
	},
	"discord-bot-token": func(r *rand.Rand) (string, string) {
		id := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d%s", 1+r.Intn(9), rs(r, digits, 17))))
		t := id + "." + rs(r, b64u, 6) + "." + rs(r, b64u, 38)
		return t, t
	},
	"telegram-bot-token-bare": func(r *rand.Rand) (string, string) {
		t := rs(r, digits, 10) + ":AA" + rs(r, b64u, 33)
		return t, t
	},
	"azure-sas-signature": func(r *rand.Rand) (string, string) {
		s := rs(r, alnum, 40) + "%2B" + rs(r, alnum, 10) + "%3D"
		return "https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&ss=b&sp=r&se=2026-12-31T00:00:00Z&sig=" + s, s
	},
	"azure-storage-key-assigned": func(r *rand.Rand) (string, string) {
		k := rs(r, alnum+"+/", 86) + "=="
		return "AZURE_STORAGE_KEY=" + k, k
	},
	// Structured files, as `cat` prints them: found by their structure.
	"dotenv": func(r *rand.Rand) (string, string) {
		p := rs(r, alnum+"!@#%^&*()-_", 20)
		names := []string{"DATABASE_PASSWORD", "SECRET_KEY_BASE", "STRIPE_SECRET", "AUTH_TOKEN", "SESSION_SECRET", "REDIS_PASS", "SMTP_PASSWORD", "APP_API_KEY"}
		return "# local settings\nNODE_ENV=development\nPORT=3000\n" + names[r.Intn(len(names))] + "=" + p + "\nLOG_LEVEL=debug", p
	},
	"kubeconfig-token": func(r *rand.Rand) (string, string) {
		t := rs(r, lowerC+digits, 6) + "." + rs(r, lowerC+digits, 16)
		return "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: " + t + "\ncontexts: []", t
	},
	"kubeconfig-client-key": func(r *rand.Rand) (string, string) {
		k := base64.StdEncoding.EncodeToString([]byte("-----BEGIN EC PRIVATE KEY-----\n" + rs(r, alnum, 48) + "\n-----END EC PRIVATE KEY-----\n"))
		return "users:\n- name: dev\n  user:\n    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t\n    client-key-data: " + k, k
	},
	"docker-auths": func(r *rand.Rand) (string, string) {
		a := base64.StdEncoding.EncodeToString([]byte("user:" + rs(r, alnum, 18)))
		return `{"auths": {"https://index.docker.io/v1/": {"auth": "` + a + `"}}, "credsStore": ""}`, a
	},
	"netrc": func(r *rand.Rand) (string, string) {
		p := rs(r, alnum+"-", 24)
		if r.Intn(2) == 0 {
			return "machine api.heroku.com\n  login me@example.org\n  password " + p, p
		}
		return "machine github.com login octocat password " + p, p
	},
	"pgpass": func(r *rand.Rand) (string, string) {
		p := rs(r, alnum+"!@#$%", 16)
		return "db.internal:5432:app:appuser:" + p + "\n*:*:*:postgres:" + rs(r, alnum, 12), p
	},
	"npmrc": func(r *rand.Rand) (string, string) {
		t := fmt.Sprintf("%s-%s-%s-%s-%s", rs(r, hexd, 8), rs(r, hexd, 4), rs(r, hexd, 4), rs(r, hexd, 4), rs(r, hexd, 12))
		return "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=" + t + "\nalways-auth=true", t
	},
	"pypirc": func(r *rand.Rand) (string, string) {
		p := rs(r, alnum+"_-", 22)
		return "[distutils]\nindex-servers = private\n\n[private]\nrepository = https://pypi.example.invalid/\nusername = deploy\npassword = " + p, p
	},
	"ini-toml-yaml": func(r *rand.Rand) (string, string) {
		p := rs(r, alnum, 18)
		forms := []string{"[database]\nhost = \"db\"\npassword = \"" + p + "\"", "[auth]\nclient_secret = '" + p + "'", "smtp:\n  host: mail\n  password: " + p, "[api]\ntoken=" + p}
		return forms[r.Intn(len(forms))], p
	},
	"private-key": func(r *rand.Rand) (string, string) {
		body := rs(r, alnum+"+/", 64) + "\n" + rs(r, alnum+"+/", 64) + "\n" + rs(r, alnum+"+/", 20) + "=="
		kind := []string{"RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "}[r.Intn(5)]
		return "-----BEGIN " + kind + "PRIVATE KEY-----\n" + body + "\n-----END " + kind + "PRIVATE KEY-----", body
	},
}

var contexts = []string{
	"%s",
	"export TOKEN=%s",
	`{"credentials": "%s", "ok": true}`,
	"config:\n  key: %s\n  region: eu-west-1",
	"curl -H 'X-Key: %s' https://api.example.invalid/v1",
	"2026-11-24T12:00:00Z INFO using %s to authenticate",
	"\x1b[32m%s\x1b[0m",
	"line one\nvalue=%s\nline three",
	"name\t%s\tactive",
	"Your key is '%s'.",
	"- %s",
}

// inside is the context that puts a colour code inside the secret, as a
// highlighter would.
const inside = "\x1b[1m"

// Corpus returns the positives: one for each kind in each context, and
// one with a colour code inside the secret, generated from a fixed seed.
func Corpus() []Positive {
	rng := rand.New(rand.NewSource(7))
	var out []Positive
	kinds := make([]string, 0, len(generators))
	for k := range generators {
		kinds = append(kinds, k)
	}
	sortStrings(kinds)
	for _, k := range kinds {
		for _, c := range contexts {
			tok, sec := generators[k](rng)
			out = append(out, Positive{Kind: k, Line: fmt.Sprintf(c, tok), Secret: sec})
		}
		tok, sec := generators[k](rng)
		if j := strings.Index(tok, sec); j >= 0 && len(sec) >= 16 {
			cut := len(sec) / 2
			line := tok[:j] + sec[:cut] + inside + sec[cut:] + "\x1b[0m" + tok[j+len(sec):]
			out = append(out, Positive{Kind: k, Line: line, Secret: sec, Pieces: []string{sec[:cut], sec[cut:]}})
		}
	}
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Negatives are strings that look technical but hold no secret.
func Negatives() []string {
	rng := rand.New(rand.NewSource(11))
	var out []string
	for i := 0; i < 25; i++ {
		out = append(out, fmt.Sprintf("request id %s-%s-4%s-a%s-%s", rs(rng, hexd, 8), rs(rng, hexd, 4), rs(rng, hexd, 3), rs(rng, hexd, 3), rs(rng, hexd, 12)))
		out = append(out, "commit "+rs(rng, hexd, 40)+" (HEAD -> main)")
		out = append(out, "sha256:"+rs(rng, hexd, 64)+"  image.tar")
		out = append(out, "data: "+base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("hello world number %d, nothing secret here", i))))
	}
	out = append(out,
		"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"password: ********",
		"password=<your-password>",
		"password=${DB_PASSWORD}",
		"export API_KEY=$API_KEY",
		"Please enter your password:",
		"the secret of a good build is caching",
		"https://github.com/execkit/execkit/blob/main/README.md",
		"ssh user@host -p 2222",
		"desk-top sk-rated risk-free",
		"go: downloading golang.org/x/sys v0.50.0",
		"main.go:42:13: undefined: tokenize",
		"pwd\n/home/user/project",
		"skip_tokens: 123",
		"Authorization required",
		"Bearer tokens expire after 3600 seconds",
		"-----BEGIN CERTIFICATE-----",
		"-----BEGIN PUBLIC KEY-----",
		"key-value store",
		"TASK [deploy] ok=3 changed=1",
		"eyJhbGciOiJIUzI1NiJ9 is just a header",
		"npm_config_cache=/tmp/npm",
		"hf_transfer enabled",
		"https://api.telegram.org/bot/getUpdates",
		"Using ghp_ prefix tokens",
		"postgres://app@db.internal:5432/main",
		"Please login and change your password immediately",
		"If the machine asks, type your password again",
		"auth: scram-sha-256",
		"auth: oauth2",
		"author: Jane Doe <jane@example.org>",
		"authentication: required",
		"localhost:5432 is accepting connections",
		"10:42:17:003: worker started",
		"ports: 8080:80:tcp",
		"https://example.invalid/search?q=sig&lang=en",
		"Signed-off-by: Jane Doe",
		"MTU 1500 bytes; NDP enabled; OTP sent",
		"build 123456789:AA failed",
	)
	return out
}
