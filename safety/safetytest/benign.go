package safetytest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand"
	"strings"
)

// Benign generates at least size bytes of output that holds no secret but
// much that resembles one: lockfiles (npm, yarn, Cargo, go.sum), package
// manager and build logs, test runners, shell listings. Names are drawn
// from lists rich in the words detectors look for (token, secret, pass,
// key, auth), hashes and checksums are random. The same seed gives the
// same text.
func Benign(seed int64, size int) string {
	r := rand.New(rand.NewSource(seed))
	var b strings.Builder
	gens := []func(*rand.Rand, *strings.Builder){
		npmLock, yarnLock, goSum, cargoLock, pipLog, aptLog, goBuildLog, ccLog, testLog, shellListing, kubeLog, miscLog,
	}
	for b.Len() < size {
		gens[r.Intn(len(gens))](r, &b)
	}
	return b.String()
}

// packageWords are parts of package names, many of them credential-ish.
var packageWords = []string{
	"js-tokens", "tokenizer", "tokenizers", "token-types", "css-tokenizer", "secret-handshake", "passport",
	"passport-local", "password-hash", "password-validator", "pwd", "keytar", "secretstorage", "auth",
	"oauth", "jwt-decode", "bcrypt", "credentials", "keyring", "api-key-auth", "private-key-utils",
	"access-key-rotator", "secrets-manager", "passlib", "passwd", "tokenize", "token-bucket", "lodash",
	"react", "chalk", "debug", "semver", "yaml", "protobuf", "grpc", "zlib", "openssl", "libsecret",
	"libpwquality", "cracklib", "keychain", "pass-store", "secret_santa", "bypass", "compass",
}

func pkgName(r *rand.Rand) string {
	n := packageWords[r.Intn(len(packageWords))]
	switch r.Intn(4) {
	case 0:
		return "@" + packageWords[r.Intn(len(packageWords))] + "/" + n
	case 1:
		return n + "-" + packageWords[r.Intn(len(packageWords))]
	}
	return n
}

func version(r *rand.Rand) string {
	return fmt.Sprintf("%d.%d.%d", r.Intn(20), r.Intn(40), r.Intn(100))
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}

func b64(r *rand.Rand, n int) string { return base64.StdEncoding.EncodeToString(randBytes(r, n)) }

func hexs(r *rand.Rand, n int) string { return hex.EncodeToString(randBytes(r, n)) }

func npmLock(r *rand.Rand, b *strings.Builder) {
	name, v := pkgName(r), version(r)
	base := name[strings.LastIndexByte(name, '/')+1:]
	fmt.Fprintf(b, "    \"node_modules/%s\": {\n      \"version\": \"%s\",\n      \"resolved\": \"https://registry.npmjs.org/%s/-/%s-%s.tgz\",\n      \"integrity\": \"sha512-%s\",\n",
		name, v, name, base, v, b64(r, 64))
	fmt.Fprintf(b, "      \"dependencies\": {\n        \"%s\": \"^%s\",\n        \"%s\": \"~%s\"\n      },\n      \"dev\": true\n    },\n",
		pkgName(r), version(r), pkgName(r), version(r))
	fmt.Fprintf(b, "    \"%s\": \"^%s\",\n", pkgName(r), version(r))
}

func yarnLock(r *rand.Rand, b *strings.Builder) {
	name, v := pkgName(r), version(r)
	fmt.Fprintf(b, "\"%s@^%s\":\n  version \"%s\"\n  resolved \"https://registry.yarnpkg.com/%s/-/%s.tgz#%s\"\n  integrity sha512-%s\n  dependencies:\n    %s \"^%s\"\n\n",
		name, v, v, name, v, hexs(r, 20), b64(r, 64), pkgName(r), version(r))
}

var goModules = []string{"github.com/golang-jwt/jwt/v5", "golang.org/x/oauth2", "github.com/sethvargo/go-password",
	"github.com/99designs/keyring", "github.com/zalando/go-keyring", "golang.org/x/crypto", "github.com/docker/docker-credential-helpers",
	"github.com/hashicorp/vault/api/auth/approle", "cloud.google.com/go/secretmanager", "github.com/aws/aws-sdk-go-v2/service/secretsmanager",
	"github.com/pkoukk/tiktoken-go", "github.com/tokenizers/tokenizer", "github.com/pwd-tools/pwd"}

func goSum(r *rand.Rand, b *strings.Builder) {
	m := goModules[r.Intn(len(goModules))]
	v := "v" + version(r)
	fmt.Fprintf(b, "%s %s h1:%s\n%s %s/go.mod h1:%s\n", m, v, b64(r, 32), m, v, b64(r, 32))
}

func cargoLock(r *rand.Rand, b *strings.Builder) {
	fmt.Fprintf(b, "[[package]]\nname = \"%s\"\nversion = \"%s\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"%s\"\ndependencies = [\n \"%s\",\n]\n\n",
		strings.ReplaceAll(pkgName(r), "@", ""), version(r), hexs(r, 32), packageWords[r.Intn(len(packageWords))])
}

func pipLog(r *rand.Rand, b *strings.Builder) {
	n, v := packageWords[r.Intn(len(packageWords))], version(r)
	fmt.Fprintf(b, "Collecting %s==%s\n  Downloading %s-%s-cp311-cp311-manylinux_2_17_x86_64.whl (%d.%d MB)\n     ━━━━━━━━━━━━━━━━━━━━ %d.%d/%d.%d MB %d.%d MB/s eta 0:00:00\n",
		n, v, n, v, r.Intn(9), r.Intn(10), r.Intn(9), r.Intn(10), r.Intn(9), r.Intn(10), r.Intn(50), r.Intn(10))
	fmt.Fprintf(b, "Requirement already satisfied: %s>=%s in ./venv/lib/python3.11/site-packages (from %s) (%s)\n", pkgName(r), version(r), n, version(r))
	fmt.Fprintf(b, "Successfully installed %s-%s %s-%s\n", n, v, packageWords[r.Intn(len(packageWords))], version(r))
}

func aptLog(r *rand.Rand, b *strings.Builder) {
	n := packageWords[r.Intn(len(packageWords))]
	v := version(r) + "-" + fmt.Sprint(r.Intn(5)) + "+b1"
	fmt.Fprintf(b, "Get:%d http://deb.debian.org/debian bookworm/main amd64 %s amd64 %s [%d kB]\n", r.Intn(200), n, v, r.Intn(9000))
	fmt.Fprintf(b, "Selecting previously unselected package %s:amd64.\nPreparing to unpack .../%s_%s_amd64.deb ...\nUnpacking %s:amd64 (%s) ...\nSetting up %s:amd64 (%s) ...\n", n, n, v, n, v, n, v)
	fmt.Fprintf(b, "Processing triggers for man-db (2.11.2-2) ...\nSHA256: %s\n", hexs(r, 32))
}

func goBuildLog(r *rand.Rand, b *strings.Builder) {
	work := fmt.Sprintf("/tmp/go-build%d", r.Int31())
	fmt.Fprintf(b, "WORK=%s\nmkdir -p $WORK/b%03d/\ncat >%s/b%03d/importcfg << 'EOF' # internal\npackagefile %s=/root/.cache/go-build/%s/%s-d\nEOF\n",
		work, r.Intn(999), work, r.Intn(999), goModules[r.Intn(len(goModules))], hexs(r, 1), hexs(r, 32))
	fmt.Fprintf(b, "/usr/local/go/pkg/tool/linux_amd64/compile -o $WORK/b%03d/_pkg_.a -trimpath \"$WORK/b%03d=>\" -p %s -lang=go1.22 -complete -buildid %s/%s -goversion go1.22.5 -c=4 -nolocalimports -importcfg $WORK/b%03d/importcfg -pack ./token.go ./secret_test.go ./password.go\n",
		r.Intn(999), r.Intn(999), goModules[r.Intn(len(goModules))], b64(r, 15), b64(r, 15), r.Intn(999))
}

func ccLog(r *rand.Rand, b *strings.Builder) {
	f := strings.ReplaceAll(packageWords[r.Intn(len(packageWords))], "-", "_")
	fmt.Fprintf(b, "gcc -DHAVE_CONFIG_H -I. -O2 -g -Wall -c -o lib/%s.o lib/%s.c\n  CC       src/%s.lo\n  CCLD     lib%s.la\n[%3d%%] Building C object CMakeFiles/%s.dir/src/%s.c.o\n",
		f, f, f, f, r.Intn(101), f, f)
	fmt.Fprintf(b, "src/%s.c:%d:%d: warning: unused variable 'token_len' [-Wunused-variable]\n", f, r.Intn(900), r.Intn(80))
}

func testLog(r *rand.Rand, b *strings.Builder) {
	n := []string{"Tokenizer", "SecretRotation", "PasswordPolicy", "APIKeyHeader", "AuthTokenRefresh", "PassThrough"}[r.Intn(6)]
	fmt.Fprintf(b, "=== RUN   Test%s\n--- PASS: Test%s (0.%02ds)\nok  \t%s\t%d.%03ds\n", n, n, r.Intn(100), goModules[r.Intn(len(goModules))], r.Intn(9), r.Intn(1000))
	fmt.Fprintf(b, "PASS src/%s.test.js (%d.%d s)\n  ✓ rejects an empty password (%d ms)\n  ✓ token_type: Bearer is accepted (%d ms)\n", strings.ToLower(n), r.Intn(9), r.Intn(10), r.Intn(90), r.Intn(90))
	fmt.Fprintf(b, "tests passed: %d, failed: 0, max_tokens: %d, tokens_used=%d\n", r.Intn(1000), 1024*(1+r.Intn(32)), r.Intn(1e6))
}

func shellListing(r *rand.Rand, b *strings.Builder) {
	dir := "/tmp/tmp." + strings.NewReplacer("/", "x", "+", "y").Replace(b64(r, 9))
	fmt.Fprintf(b, "declare -x HOME=\"/root\"\ndeclare -x OLDPWD=\"/home/dev/src\"\ndeclare -x PWD=\"%s\"\ndeclare -x SHLVL=\"1\"\nPWD=%s\nOLDPWD=/srv/app\n", dir, dir)
	fmt.Fprintf(b, "-rw-r--r-- 1 dev dev %5d Jan %2d 10:%02d password_policy.md\n-rw------- 1 dev dev %5d Jan %2d 10:%02d secrets.example.yaml\ndrwxr-xr-x 2 dev dev 4096 Jan %2d 10:%02d tokens/\n",
		r.Intn(99999), 1+r.Intn(28), r.Intn(60), r.Intn(99999), 1+r.Intn(28), r.Intn(60), 1+r.Intn(28), r.Intn(60))
}

func kubeLog(r *rand.Rand, b *strings.Builder) {
	fmt.Fprintf(b, "NAME                  TYPE                                  DATA   AGE\ndefault-token-%s   kubernetes.io/service-account-token   3      %dd\napp-secret-%s        Opaque                                2      %dh\n",
		strings.ToLower(hexs(r, 3))[:5], r.Intn(300), strings.ToLower(hexs(r, 3))[:5], r.Intn(24))
}

func miscLog(r *rand.Rand, b *strings.Builder) {
	fmt.Fprintf(b, "Using tokenizer=bert-base-uncased, secret_santa: enabled, bypass=cache\n")
	fmt.Fprintf(b, "commit %s\nAuthor: Dev <dev@example.org>\n    rotate the token cache (%s)\n", hexs(r, 20), hexs(r, 4))
	fmt.Fprintf(b, "token := os.Getenv(\"GITHUB_TOKEN\")\npassword = getpass.getpass()\nlet tok = Token::new(span, kind);\n")
	fmt.Fprintf(b, "time=2026-01-%02dT10:%02d:%02dZ level=info msg=\"token refreshed\" expires_in=%d token_type=Bearer\n", 1+r.Intn(28), r.Intn(60), r.Intn(60), r.Intn(7200))
}

// BuildLog makes about n bytes of a realistic build log: compiler and test
// output, timestamps, paths, hashes, URLs, and a credential every few
// thousand lines.
func BuildLog(n int) []byte {
	rng := rand.New(rand.NewSource(1))
	var b bytes.Buffer
	pos := Corpus()
	lines := []string{
		"2026-11-24T12:%02d:%02d.%03dZ INFO  [builder] compiling package github.com/example/project/internal/pkg%d (%d files)\n",
		"go: downloading golang.org/x/tools v0.%d.%d\n",
		"=== RUN   TestHandler/case_%d_with_%d_inputs\n",
		"--- PASS: TestHandler/case_%d (0.%02ds)\n",
		"src/components/widget%d.tsx:%d:14 - warning: unused variable 'tmp%d' (no-unused-vars)\n",
		"Step %d/%d : RUN apt-get install -y build-essential && rm -rf /var/lib/apt/lists/*\n",
		"Fetched https://registry.npmjs.org/package-%d/-/package-%d-1.2.3.tgz in %dms\n",
		"commit %x%x (HEAD -> main, origin/main)\n",
		"ok  \tgithub.com/example/project/pkg%d\t0.%03ds\tcoverage: %d.%d%% of statements\n",
	}
	i := 0
	for b.Len() < n {
		if i%3000 == 2999 {
			b.WriteString(pos[rng.Intn(len(pos))].Line + "\n")
		}
		l := lines[rng.Intn(len(lines))]
		args := []any{rng.Intn(60), rng.Intn(60), rng.Intn(1000), rng.Intn(1 << 31), rng.Intn(100)}
		verbs := strings.Count(l, "%") - 2*strings.Count(l, "%%")
		fmt.Fprintf(&b, l, args[:verbs]...)
		i++
	}
	return b.Bytes()
}
