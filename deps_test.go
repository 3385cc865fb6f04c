package execkit_test

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/execkit/execkit/"

// concrete are the transports only the opener (package target) may name.
var concrete = []string{"transport/local", "transport/ssh", "transport/docker"}

// TestDependencyDirection enforces the layering in docs/architecture.md:
// transport, safety and undo import nothing else from execkit; journal
// only safety (for the policy and budget it records); session imports
// those; target (the opener) imports session and the concrete transports;
// replay, mcpserver and viewer import target and the layers below it;
// only cmd imports everything.
func TestDependencyDirection(t *testing.T) {
	allowed := map[string][]string{
		"transport": {"transport"},
		"safety":    {"safety"},
		"journal":   {"journal", "safety"},
		"undo":      {"undo"},
		"session":   {"session", "transport", "safety", "journal", "undo"},
		"target":    {"target", "session", "transport", "safety", "journal", "undo"},
		"replay":    {"replay", "target", "session", "journal", "transport", "safety", "undo"},
		"mcpserver": {"mcpserver", "target", "session", "journal", "transport", "safety", "undo"},
		"viewer":    {"viewer", "target", "journal", "undo", "safety"},
	}
	// Tests may open sessions the way execkit does, through the opener.
	testAllowed := map[string][]string{"session": {"target"}}
	for _, p := range listPackages(t) {
		top := strings.SplitN(p.path, "/", 2)[0]
		ok, ruled := allowed[top]
		if !ruled {
			continue
		}
		check := func(imports []string, extra []string) {
			for _, imp := range imports {
				if !strings.HasPrefix(imp, mod) {
					continue
				}
				itop := strings.SplitN(strings.TrimPrefix(imp, mod), "/", 2)[0]
				if itop == "internal" {
					continue // test support shared by every layer
				}
				good := false
				for _, a := range append(ok, extra...) {
					good = good || a == itop
				}
				if !good {
					t.Errorf("%s imports %s: %s may not depend on %s", p.path, imp, top, itop)
				}
			}
		}
		check(p.imports, nil)
		check(p.testImports, testAllowed[top])
	}
}

// TestOneOpener: only the opener names a concrete transport; everything
// else reaches targets through it. A transport's own package, its tests
// and its test helpers (sshtest, dockertest) are the exception.
func TestOneOpener(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, imp := range append(p.imports, p.testImports...) {
			for _, c := range concrete {
				if imp != mod+c {
					continue
				}
				own := strings.HasPrefix(p.path, c)
				opener := p.path == "target" || strings.HasPrefix(p.path, "target/")
				if !own && !opener {
					t.Errorf("%s imports %s: only the opener (package target) may", p.path, c)
				}
			}
		}
	}
}

type pkg struct {
	path                 string
	imports, testImports []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{join .Imports " "}}|{{join .TestImports " "}} {{join .XTestImports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var ps []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		ps = append(ps, pkg{path: strings.TrimPrefix(f[0], mod), imports: strings.Fields(f[1]), testImports: strings.Fields(f[2])})
	}
	return ps
}
