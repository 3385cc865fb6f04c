// Package safety stands between an agent and the host. This file holds the
// Redactor: a streaming secret scrubber that output and commands pass
// through before anything is returned or stored. The command policy,
// terminal-escape sanitising and output budgets are still to come.
package safety

import (
	"bytes"
	"io"
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// detector finds one kind of credential. A match can only start where one
// of its anchors starts (anchors are compared without regard to ASCII case
// when fold is set); re is matched against the text from there, and the
// span of submatch group is replaced.
type detector struct {
	kind     string
	anchors  []string
	fold     bool
	re       *regexp.Regexp
	group    int
	boundary bool // the byte before the anchor must not be a letter or digit
	// reach is how many bytes re can match at most: it is given no more
	// (the regexp engine's cost grows with the length of its input).
	reach int
}

// maxMatch bounds how long a match may be; the stream holds back this much.
const maxMatch = 4096

func d(kind string, anchors []string, re string) detector {
	return detector{kind: kind, anchors: anchors, re: regexp.MustCompile("^(?:" + re + ")"), boundary: true, reach: reach(re)}
}

func dg(kind string, anchors []string, re string) detector {
	return detector{kind: kind, anchors: anchors, fold: true, re: regexp.MustCompile("^(?i:" + re + ")"), group: 1, reach: reach(re)}
}

// reach is the most bytes a match of re can span, or maxMatch.
func reach(re string) int {
	t, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		panic(err)
	}
	return min(maxLen(t), maxMatch)
}

func maxLen(t *syntax.Regexp) int {
	const inf = maxMatch
	switch t.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range t.Rune {
			n += utf8.RuneLen(r)
		}
		return n
	case syntax.OpCharClass:
		for _, r := range t.Rune {
			if r >= utf8.RuneSelf {
				return utf8.UTFMax
			}
		}
		return 1
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return utf8.UTFMax
	case syntax.OpCapture:
		return maxLen(t.Sub[0])
	case syntax.OpConcat:
		n := 0
		for _, sub := range t.Sub {
			n = min(n+maxLen(sub), inf)
		}
		return n
	case syntax.OpAlternate:
		n := 0
		for _, sub := range t.Sub {
			n = max(n, maxLen(sub))
		}
		return n
	case syntax.OpQuest:
		return maxLen(t.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		return inf
	case syntax.OpRepeat:
		if t.Max < 0 {
			return inf
		}
		return min(t.Max*maxLen(t.Sub[0]), inf)
	}
	return 0 // empty-width assertions
}

// builtins are the detectors for common credential families. The formats
// are the providers' published token shapes. They are compiled at first
// use, not at start: a program that never redacts (execkit --version, the
// reaper) does not pay for them.
var builtins = sync.OnceValue(func() []detector {
	dets := builtinDetectors()
	// A Mailchimp key is 32 hex digits then -usNN: anchored on the hex is
	// too costly, so it is found from the "-us" suffix and checked back.
	for i := range dets {
		if dets[i].kind == "mailchimp-api-key" {
			dets[i].re = nil
		}
	}
	return dets
})

func builtinDetectors() []detector {
	return []detector{
		d("aws-access-key-id", []string{"AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"}, `A[KSGIRN][A-Z]A[0-9A-Z]{16}`),
		dg("aws-secret-access-key", []string{"aws_secret_access_key", "aws_secret_key", "secretaccesskey"}, `(?:aws_secret_access_key|aws_secret_key|secretaccesskey)["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})`),
		d("github-token", []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, `gh[pousr]_[A-Za-z0-9]{36,255}`),
		d("github-fine-grained-token", []string{"github_pat_"}, `github_pat_[A-Za-z0-9_]{82}`),
		d("gitlab-token", []string{"glpat-", "glrt-", "gldt-", "glptt-", "glsoat-"}, `gl(?:pat|rt|dt|ptt|soat)-[A-Za-z0-9_-]{20,64}`),
		d("slack-token", []string{"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-"}, `xox[bpasre]-[0-9A-Za-z-]{10,250}`),
		d("slack-webhook", []string{"https://hooks.slack.com/"}, `https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_+-]{20,200}`),
		d("stripe-key", []string{"sk_live_", "rk_live_", "sk_test_", "rk_test_", "whsec_"}, `(?:[sr]k_(?:live|test)|whsec)_[0-9A-Za-z]{24,247}`),
		d("anthropic-api-key", []string{"sk-ant-"}, `sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{80,120}`),
		d("openai-api-key", []string{"sk-proj-", "sk-svcacct-", "sk-admin-", "sk-"}, `sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,200}|[A-Za-z0-9]{48})`),
		d("google-api-key", []string{"AIza"}, `AIza[0-9A-Za-z_-]{35}`),
		d("google-oauth-secret", []string{"GOCSPX-"}, `GOCSPX-[A-Za-z0-9_-]{28}`),
		d("jwt", []string{"eyJ"}, `eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}`),
		d("npm-token", []string{"npm_"}, `npm_[A-Za-z0-9]{36}`),
		d("pypi-token", []string{"pypi-AgE"}, `pypi-AgE[A-Za-z0-9_-]{50,1000}`),
		d("dockerhub-token", []string{"dckr_pat_"}, `dckr_pat_[A-Za-z0-9_-]{27}`),
		d("sendgrid-api-key", []string{"SG."}, `SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}`),
		d("twilio-api-key", []string{"SK"}, `SK[0-9a-f]{32}`),
		d("mailgun-api-key", []string{"key-"}, `key-[0-9a-f]{32}`),
		d("huggingface-token", []string{"hf_"}, `hf_[A-Za-z]{34}`),
		d("digitalocean-token", []string{"dop_v1_", "doo_v1_", "dor_v1_"}, `do[por]_v1_[a-f0-9]{64}`),
		d("shopify-token", []string{"shpat_", "shpss_", "shpca_", "shppa_"}, `shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}`),
		d("discord-webhook", []string{"https://discord.com/api/webhooks/", "https://discordapp.com/api/webhooks/"}, `https://discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,80}`),
		d("telegram-bot-token", []string{"bot"}, `bot[0-9]{8,10}:AA[0-9A-Za-z_-]{33}`),
		// A bare bot token (123456789:AA…): found from ":AA" and checked back.
		d("telegram-bot-token", []string{":AA"}, `:AA[0-9A-Za-z_-]{33}`),
		// A bot token: the bot's id in base64 (a snowflake's first digit gives
		// the first two letters), a timestamp, an HMAC.
		d("discord-bot-token", []string{"MT", "Mj", "Mz", "ND", "NT", "Nj", "Nz", "OD", "OT"}, `[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}`),
		// A shared access signature in a URL's query.
		dg("azure-sas-signature", []string{"sig="}, `sig=([A-Za-z0-9%+/]{40,120}(?:%3D|=){0,2})`),
		// A .pgpass line, host:port:database:user:password, found from its port.
		{kind: "pgpass-password", anchors: []string{":5432:", ":5433:", ":6432:", ":*:"}},
		dg("azure-storage-key", []string{"accountkey="}, `accountkey=([A-Za-z0-9+/]{86}==)`),
		d("square-token", []string{"sq0atp-", "sq0csp-", "EAAA"}, `(?:sq0atp-[0-9A-Za-z_-]{22}|sq0csp-[0-9A-Za-z_-]{43}|EAAA[A-Za-z0-9_-]{60})`),
		d("linear-api-key", []string{"lin_api_"}, `lin_api_[A-Za-z0-9]{40}`),
		d("vault-token", []string{"hvs.", "hvb."}, `hv[sb]\.[A-Za-z0-9_-]{24,200}`),
		d("doppler-token", []string{"dp.pt.", "dp.st.", "dp.sa."}, `dp\.(?:pt|st|sa)\.[A-Za-z0-9]{40,44}`),
		d("databricks-token", []string{"dapi"}, `dapi[a-f0-9]{32}(?:-\d)?`),
		d("grafana-token", []string{"glc_", "glsa_"}, `(?:glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})`),
		d("atlassian-api-token", []string{"ATATT3"}, `ATATT3[A-Za-z0-9_=-]{180,200}`),
		d("age-secret-key", []string{"AGE-SECRET-KEY-1"}, `AGE-SECRET-KEY-1[0-9A-Z]{58}`),
		d("pulumi-token", []string{"pul-"}, `pul-[a-f0-9]{40}`),
		d("postman-api-key", []string{"PMAK-"}, `PMAK-[a-f0-9]{24}-[a-f0-9]{34}`),
		d("newrelic-key", []string{"NRAK-", "NRII-"}, `NR(?:AK|II)-[A-Z0-9]{27,32}`),
		d("heroku-api-key", []string{"HRKU-"}, `HRKU-[A-Za-z0-9_-]{60}`),
		d("mailchimp-api-key", []string{"-us"}, `-us[0-9]{1,2}`), // placeholder, replaced in init
		d("sentry-token", []string{"sntrys_", "sntryu_"}, `sntry[su]_[A-Za-z0-9+/=_]{40,200}`),
		d("planetscale-token", []string{"pscale_tkn_", "pscale_pw_"}, `pscale_(?:tkn|pw)_[A-Za-z0-9_.-]{32,64}`),
		dg("url-password", []string{"://"}, `://[^\s:/@'"]{1,128}:([^\s/@'"]{1,256})@`),
		dg("authorization-header", []string{"authorization"}, `authorization["']?\s*[:=]\s*["']?(?:bearer|basic|token|digest|bot)?\s*([A-Za-z0-9._~+/=:-]{8,1000})`),
		dg("bearer-token", []string{"bearer "}, `bearer[ \t]+([A-Za-z0-9._~+/=-]{16,1000})`),
		// A credential assigned to a name: found from the name, its value
		// taken by assignValue (see there).
		{kind: "password-assignment", fold: true, anchors: []string{"pass", "pwd", "secret", "token", "api_key", "apikey", "api-key", "private_key", "private-key", "access_key", "access-key",
			"auth", "accountkey", "account_key", "account-key", "storagekey", "storage_key", "storage-key", "identitytoken", "registrytoken", "client-key-data", "client_key_data", "clientkeydata"}},
	}
}

var mailchimp = regexp.MustCompile(`[0-9a-f]{32}-us[0-9]{1,2}$`)

// placeholder values that are documentation, not secrets.
var placeholderWords = []string{"example", "xxxxxxxx", "changeme", "redacted", "placeholder", "your_", "your-", "<", "${", "$(", "****"}

func isPlaceholder(s []byte) bool {
	l := bytes.ToLower(s)
	for _, w := range placeholderWords {
		if bytes.Contains(l, []byte(w)) {
			return true
		}
	}
	if len(s) > 0 && s[0] == '$' {
		return true // a variable reference
	}
	return false
}

// Secret is a literal value the operator names, or the value of a secret-
// looking environment variable.
type Secret struct {
	Name  string
	Value string
}

// Redactor replaces credentials with [REDACTED:kind]. The zero value is not
// usable; build one with NewRedactor. A Redactor is immutable and safe for
// concurrent use; each stream gets its own Stream.
type Redactor struct {
	dets []detector
	hit  [1 << 16]uint16 // byte pair -> 1 + index in refs
	refs [][]anchorRef
	lits []Secret
}

type anchorRef struct {
	det    int // index in dets, or -1-literal index
	anchor string
}

// NewRedactor builds a redactor with the built-in detectors plus the given
// literal secrets (values shorter than 6 bytes are ignored: too likely to
// occur by chance).
func NewRedactor(secrets []Secret) *Redactor {
	r := &Redactor{dets: builtins()}
	r.hit[pair('[', 'R')] = markerHit
	for i, det := range r.dets {
		for _, a := range det.anchors {
			r.add(a, anchorRef{det: i, anchor: a}, det.fold)
		}
	}
	for _, s := range secrets {
		if len(s.Value) < 6 {
			continue
		}
		r.lits = append(r.lits, s)
		r.add(s.Value, anchorRef{det: -len(r.lits), anchor: s.Value}, false)
	}
	return r
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 32
	}
	return c
}

// pair is the anchor table's key for the two bytes an anchor starts with.
func pair(a, b byte) int { return int(a)<<8 | int(b) }

// add files ref under its anchor's first two bytes; a detector that folds
// case is filed under every case of them.
func (r *Redactor) add(anchor string, ref anchorRef, fold bool) {
	keys := []int{pair(anchor[0], anchor[1])}
	if fold {
		a, b := anchor[0], anchor[1]
		keys = []int{pair(lower(a), lower(b)), pair(lower(a), upper(b)), pair(upper(a), lower(b)), pair(upper(a), upper(b))}
	}
	seen := map[int]bool{}
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		r.addKey(k, ref)
	}
}

func (r *Redactor) addKey(k int, ref anchorRef) {
	if r.hit[k] == 0 {
		r.refs = append(r.refs, nil)
		r.hit[k] = uint16(len(r.refs))
	}
	r.refs[r.hit[k]-1] = append(r.refs[r.hit[k]-1], ref)
}

// SecretEnv picks the environment variables whose names look like they hold
// secrets (…TOKEN, …SECRET, …PASSWORD, …API_KEY, …_KEY, …CREDENTIALS) and
// returns their values as secrets.
func SecretEnv(env []string) []Secret {
	var out []Secret
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || len(val) < 8 {
			continue
		}
		u := strings.ToUpper(name)
		for _, w := range []string{"TOKEN", "SECRET", "PASSWORD", "PASSWD", "API_KEY", "APIKEY", "_KEY", "CREDENTIAL", "AUTH"} {
			if strings.Contains(u, w) && !strings.HasSuffix(u, "_FILE") && !strings.HasSuffix(u, "_PATH") {
				out = append(out, Secret{Name: name, Value: val})
				break
			}
		}
	}
	return out
}

// isLabel reports whether the value ending at e is itself the name of a
// further assignment: it ends with ':' or is followed by blanks and '=' or
// ':'.
func isLabel(w []byte, e int) bool {
	if w[e-1] == ':' {
		return true
	}
	for e < len(w) && (w[e] == ' ' || w[e] == '\t') {
		e++
	}
	return e < len(w) && (w[e] == '=' || w[e] == ':')
}

// afterEscape reports whether a terminal escape sequence (CSI, such as a
// colour) ends just before i: text is matched as if escapes were stripped.
func afterEscape(b []byte, i int) bool {
	j := i - 1
	if j < 0 || b[j] < 0x40 || b[j] > 0x7e {
		return false
	}
	for j--; j >= 0 && j >= i-32; j-- {
		c := b[j]
		switch {
		case c == '[':
			return j > 0 && b[j-1] == 0x1b
		case c >= 0x20 && c <= 0x3f:
			continue
		default:
			return false
		}
	}
	return false
}

func isWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

type span struct {
	start, end int
	kind       string
	pem        bool // a private key: everything up to its END line
	touches    bool // it ends where the text does, escapes aside
}

// find returns the first match starting at or after from whose start is
// before limit, or ok=false.
func (r *Redactor) find(b []byte, from, limit int) (span, bool) {
	for i := from; i+1 < len(b) && i < limit; i++ {
		h := r.hit[pair(b[i], b[i+1])]
		if h == markerHit {
			// Already redacted (a second pass): nothing in the marker is a secret.
			if bytes.HasPrefix(b[i:], redactedMark) {
				if j := bytes.IndexByte(b[i:], ']'); j > 0 {
					i += j
				}
			}
			continue
		}
		if h == 0 {
			if b[i] != '-' {
				continue
			}
		} else {
			for _, ref := range r.refs[h-1] {
				if s, ok := r.try(b, i, ref); ok {
					return s, true
				}
			}
		}
		if b[i] == '-' && i+10 <= len(b) && bytes.HasPrefix(b[i:], []byte("-----BEGIN")) {
			if m := pemBegin.Find(b[i:min(len(b), i+100)]); m != nil {
				return span{start: i, end: i + len(m), kind: "private-key", pem: true}, true
			}
		}
	}
	return span{}, false
}

var redactedMark = []byte("[REDACTED:")

// markerHit marks the byte pair that starts a [REDACTED:…] marker in the
// anchor table; no detector starts there.
const markerHit = 0xffff

var pemBegin = regexp.MustCompile(`^-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----`)
var pemEnd = regexp.MustCompile(`-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----`)

func (r *Redactor) try(b []byte, i int, ref anchorRef) (span, bool) {
	a := ref.anchor
	if len(b)-i < len(a) {
		return span{}, false
	}
	if ref.det < 0 {
		if string(b[i:i+len(a)]) == a {
			return span{start: i, end: i + len(a), kind: "secret:" + r.lits[-ref.det-1].Name}, true
		}
		return span{}, false
	}
	det := &r.dets[ref.det]
	if det.fold {
		if !bytes.EqualFold(b[i:i+len(a)], []byte(a)) {
			return span{}, false
		}
	} else if string(b[i:i+len(a)]) != a {
		return span{}, false
	}
	if det.kind == "pgpass-password" {
		return pgpass(b, i)
	}
	if det.kind == "telegram-bot-token" && a == ":AA" {
		// The bot's id, 8 to 10 digits, must come just before.
		j := i
		for j > 0 && i-j < 11 && b[j-1] >= '0' && b[j-1] <= '9' {
			j--
		}
		if i-j < 8 || i-j > 10 || j > 0 && isWord(b[j-1]) && !afterEscape(b, j) {
			return span{}, false
		}
		m := det.re.Find(b[i:min(len(b), i+det.reach)])
		if m == nil || i+len(m) < len(b) && isWord(b[i+len(m)]) {
			return span{}, false
		}
		return span{start: j, end: i + len(m), kind: det.kind}, true
	}
	if det.kind == "mailchimp-api-key" {
		if i < 32 {
			return span{}, false
		}
		end := i + 3
		for end < len(b) && end < i+5 && b[end] >= '0' && b[end] <= '9' {
			end++
		}
		if m := mailchimp.Find(b[i-32 : end]); m != nil && (i-32 == 0 || !isWord(b[i-33]) || afterEscape(b, i-32)) {
			return span{start: i - 32, end: end, kind: det.kind}, true
		}
		return span{}, false
	}
	if det.boundary && i > 0 && isWord(b[i-1]) && !afterEscape(b, i) {
		return span{}, false
	}
	w := b[i:min(len(b), i+maxMatch)]
	if det.kind == "url-password" && !authorityHasAt(w) {
		return span{}, false // most URLs: no user:password@
	}
	var s, e int
	if det.kind == "password-assignment" {
		as, ae, ok := assignment(b, i)
		if !ok {
			return span{}, false
		}
		s, e = as-i, ae-i
	} else {
		m := det.re.FindSubmatchIndex(w[:min(len(w), det.reach)])
		if m == nil {
			return span{}, false
		}
		s, e = m[2*det.group], m[2*det.group+1]
		if s < 0 {
			return span{}, false
		}
	}
	if det.group == 0 && e < len(w) && isWord(w[e]) && det.kind != "jwt" && det.kind != "password-assignment" {
		// The token runs on: a longer random string that only starts like one.
		if det.kind != "github-token" && det.kind != "stripe-key" {
			return span{}, false
		}
	}
	// A value after a name ("password = changeme") may be documentation; a
	// token of a credential's own shape is redacted whatever it spells (AWS's
	// documented AKIAIOSFODNN7EXAMPLE is a valid-looking key all the same).
	if (det.group > 0 || det.kind == "password-assignment") && placeholderValue(w[s:e]) {
		return span{}, false
	}
	if det.group > 0 && det.kind != "password-assignment" && isLabel(w, e) {
		return span{}, false // a label ("TOKEN=Authorization: ...", "X=key = v"), not a value
	}
	if det.kind == "password-assignment" && bytes.HasPrefix(w[s:], []byte("-----BEGIN")) {
		return span{}, false // a private key: redacted whole, from BEGIN to END
	}
	if det.kind == "password-assignment" && e-s >= 2 {
		// The value is where a more specific credential starts: leave it to
		// that detector ("TOKEN=aws_secret_access_key = ...").
		if h := r.hit[pair(w[s], w[s+1])]; h != 0 {
			for _, ref := range r.refs[h-1] {
				if ref.det >= 0 && r.dets[ref.det].kind != det.kind {
					if _, ok := r.try(b, i+s, ref); ok {
						return span{}, false
					}
				}
			}
		}
	}
	return span{start: i + s, end: i + e, kind: det.kind}, true
}

// pgpassFields are the fields of a .pgpass entry before its password:
// host:port:database:user:, none with a blank (a field may hold an escaped
// colon).
var pgpassFields = regexp.MustCompile(`^((?:[^:\s\\'"]|\\.)+):([0-9]{1,5}|\*):((?:[^:\s\\]|\\.)+):((?:[^:\s\\]|\\.)+):`)

// pgpass finds the password of the .pgpass entry whose port field starts
// at i (the colon before it). The host is the word before i; the password
// runs to the end of the line when the entry starts its line (after
// blanks, a list dash or a line number), or else to the next blank or
// quote.
func pgpass(b []byte, i int) (span, bool) {
	hs := i
	for hs > 0 && i-hs < 256 && !isBlankOrQuote(b[hs-1]) {
		hs--
	}
	le := i
	for le < len(b) && le-i < 1024 && b[le] != '\n' && b[le] != '\r' {
		le++
	}
	m := pgpassFields.FindSubmatchIndex(b[hs:le])
	if m == nil || hs+m[3] != i {
		return span{}, false
	}
	s, e := hs+m[1], le
	if !startsLine(b, hs) && !afterLineNumber(b, hs) {
		for e = s; e < le && !isBlankOrQuote(b[e]); e++ {
		}
	}
	for e > s && (b[e-1] == ' ' || b[e-1] == '\t') {
		e--
	}
	if e == s || placeholderValue(b[s:e]) {
		return span{}, false
	}
	return span{start: s, end: e, kind: "pgpass-password"}, true
}

// afterLineNumber reports whether only blanks and a number (cat -n, grep
// -n) come before i on its line.
func afterLineNumber(b []byte, i int) bool {
	j := i
	for j > 0 && i-j < 32 && (b[j-1] == ' ' || b[j-1] == '\t' || b[j-1] == ':' || b[j-1] >= '0' && b[j-1] <= '9') {
		j--
	}
	return j == 0 || b[j-1] == '\n' || b[j-1] == '\r'
}

// authorityHasAt reports whether the URL whose "://" starts w has an '@'
// in its authority, where a password would be.
func authorityHasAt(w []byte) bool {
	for j := 3; j < len(w) && j < 400; j++ {
		switch w[j] {
		case '@':
			return true
		case '/', ' ', '\t', '\n', '\r', '\'', '"':
			return false
		}
	}
	return false
}

// Redact returns s with every credential replaced.
func (r *Redactor) Redact(s string) string {
	var out bytes.Buffer
	st := r.Stream(&out)
	st.Write([]byte(s))
	st.Close()
	return out.String()
}

// RedactCommand is Redact for a command line that will be stored: a named
// secret becomes the placeholder ${secret:NAME}, which a replay fills in
// again from the environment; other credentials become [REDACTED:kind].
func (r *Redactor) RedactCommand(s string) string {
	var out bytes.Buffer
	st := r.Stream(&out)
	st.placeholders = true
	st.Write([]byte(s))
	st.Close()
	return out.String()
}

// Stream redacts one stream written in pieces of any size: a secret split
// across writes is still found. It holds back the last few KiB until more
// arrives or Close. Not safe for concurrent use.
type Stream struct {
	r            *Redactor
	out          io.Writer
	buf          []byte
	done         int // buf[:done] was passed on already, kept as context
	inPEM        bool
	placeholders bool
	kinds        map[string]int
	// view is buf without its escape sequences, and idx where each of its
	// bytes is in buf, while a pass over buf that needs them runs.
	view []byte
	idx  []int
}

// Stream starts redacting a stream into out. Errors from out are not
// reported: out is expected to be a buffer that cannot fail.
func (r *Redactor) Stream(out io.Writer) *Stream {
	return &Stream{r: r, out: out, kinds: map[string]int{}}
}

// Write redacts p, passing on what can no longer be part of a secret.
func (s *Stream) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	s.process(false)
	return len(p), nil
}

// Close passes on the rest. Inside an unterminated private key the rest is
// dropped.
func (s *Stream) Close() error {
	s.process(true)
	return nil
}

// Flush passes on the complete lines held back, for a reader that wants
// output as it comes (a live view): everything up to the last line break,
// except from a line that may name a value still to come on the next
// lines (one ending in ":", "=", "|", ">", "\\" or an opening quote) and
// inside a private key. What it passes on is redacted as the rest is.
func (s *Stream) Flush() {
	if s.inPEM {
		return
	}
	b := s.buf
	end := bytes.LastIndexByte(b, '\n') + 1
	for end > s.done {
		// The line before end must not announce a value on the next one.
		start := bytes.LastIndexByte(b[:end-1], '\n') + 1
		line := bytes.TrimRight(b[start:end-1], " \t\r")
		if len(line) == 0 || !bytes.ContainsAny(line[len(line)-1:], ":=|>\\\"'`([{") {
			break
		}
		end = start
	}
	if end <= s.done {
		return
	}
	s.processTo(end)
}

// Found reports how many of each kind were redacted so far.
func (s *Stream) Found() map[string]int { return s.kinds }

func (s *Stream) process(final bool) {
	limit := len(s.buf) - maxMatch
	if final {
		limit = len(s.buf)
	}
	s.pass(limit, final)
}

// processTo passes on buf up to limit, a line break: no match runs over
// one but a private key, which pass holds back.
func (s *Stream) processTo(limit int) {
	if limit > len(s.buf)-maxMatch {
		s.pass(limit, false)
	}
}

// pass redacts buf and passes it on up to limit (all of it when final).
func (s *Stream) pass(limit int, final bool) {
	defer func() { s.view, s.idx = nil, nil }()
	b := s.buf
	pos := s.done
	for {
		if s.inPEM {
			if m := pemEnd.FindIndex(b[pos:]); m != nil {
				pos += m[1]
				s.inPEM = false
				continue
			}
			if final {
				pos = len(b)
			} else if keep := len(b) - 100; keep > pos {
				pos = keep // drop key material, keep what may begin the END line
			}
			break
		}
		if pos >= limit {
			break
		}
		sp, ok := s.find(b, pos, limit)
		if !ok {
			s.out.Write(b[pos:max(pos, limit)])
			pos = max(pos, limit)
			break
		}
		sp.start = max(sp.start, pos) // what was passed on stays passed on
		if !final && (sp.end >= len(b) || sp.touches) {
			// The match touches the end: it may go on in the next write.
			s.out.Write(b[pos:sp.start])
			pos = sp.start
			break
		}
		s.out.Write(b[pos:sp.start])
		if name, ok := strings.CutPrefix(sp.kind, "secret:"); ok && s.placeholders {
			s.out.Write([]byte("${secret:" + name + "}"))
		} else {
			s.out.Write([]byte("[REDACTED:" + sp.kind + "]"))
		}
		s.kinds[sp.kind]++
		pos = sp.end
		if sp.pem {
			s.inPEM = true
		}
	}
	if final && pos < len(b) && !s.inPEM {
		s.out.Write(b[pos:])
		pos = len(b)
	}
	// What was passed on stays as context for the matchers that look back
	// (a .netrc password after its machine line), never passed on again.
	keep := max(0, pos-keepContext)
	s.buf = append(s.buf[:0], b[keep:]...)
	s.done = pos - keep
}

// keepContext is how much text already passed on a Stream keeps for
// matchers that look back.
const keepContext = 512

// find is Redactor.find through terminal escape sequences: when b holds
// any, matching runs on b without them (a colour code inside a token does
// not cut it short), and the match is mapped back onto b, escapes inside
// it included.
func (s *Stream) find(b []byte, from, limit int) (span, bool) {
	if s.view == nil {
		if bytes.IndexByte(b[from:], 0x1b) < 0 {
			return s.r.find(b, from, limit)
		}
		// Made once per pass over b: b does not change within it.
		s.view, s.idx = withoutEscapes(b)
	}
	// view[k] is b[idx[k]]; idx has one more entry, for the end.
	view, idx := s.view, s.idx
	at := func(o int) int { return sort.SearchInts(idx, o) }
	sp, ok := s.r.find(view, at(from), at(limit))
	if !ok {
		return span{}, false
	}
	sp.start = idx[sp.start]
	sp.touches = sp.end >= len(view)
	sp.end = idx[sp.end-1] + 1
	return sp, true
}

// withoutEscapes returns b with its escape sequences (CSI, OSC and two-byte
// ESC sequences) removed, and for each byte kept its index in b, followed
// by len(b).
func withoutEscapes(b []byte) ([]byte, []int) {
	view := make([]byte, 0, len(b))
	idx := make([]int, 0, len(b)+1)
	for i := 0; i < len(b); i++ {
		if b[i] == 0x1b && i+1 < len(b) {
			if n := escapeLen(b[i:]); n > 0 {
				i += n - 1
				continue
			}
		}
		view = append(view, b[i])
		idx = append(idx, i)
	}
	return view, append(idx, len(b))
}

// escapeLen is the length of the escape sequence b starts with, or 0 when
// it is not a whole one.
func escapeLen(b []byte) int {
	switch {
	case b[1] == '[':
		for j := 2; j < len(b) && j < 64; j++ {
			if c := b[j]; c >= 0x40 && c <= 0x7e {
				return j + 1
			} else if c < 0x20 || c > 0x3f && c < 0x40 {
				return 0
			}
		}
		return 0
	case b[1] == ']':
		for j := 2; j < len(b) && j < 512; j++ {
			if b[j] == 0x07 {
				return j + 1
			}
			if b[j] == 0x1b && j+1 < len(b) && b[j+1] == '\\' {
				return j + 2
			}
		}
		return 0
	case b[1] >= 0x40 && b[1] <= 0x5f:
		return 2
	}
	return 0
}

// Kinds lists the kinds of credential the built-in detectors know.
func Kinds() []string {
	seen := map[string]bool{"private-key": true}
	out := []string{"private-key"}
	for _, d := range builtins() {
		if !seen[d.kind] {
			seen[d.kind] = true
			out = append(out, d.kind)
		}
	}
	sort.Strings(out)
	return out
}
