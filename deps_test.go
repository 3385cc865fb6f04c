package execkit_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection enforces the layering in docs/architecture.md:
// transport, safety, journal and undo import nothing else from execkit;
// session imports only those; replay and mcpserver import session and the
// layers below it; only cmd imports everything.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/execkit/execkit/"
	allowed := map[string][]string{
		"transport": {"transport"},
		"safety":    {"safety"},
		"journal":   {"journal"},
		"undo":      {"undo"},
		"session":   {"session", "transport", "safety", "journal", "undo"},
		"replay":    {"replay", "session", "journal", "transport", "safety", "undo"},
		"mcpserver": {"mcpserver", "session", "journal", "transport", "safety", "undo"},
		"viewer":    {"viewer", "journal", "undo"},
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		top := strings.SplitN(pkg, "/", 2)[0]
		ok, ruled := allowed[top]
		if !ruled {
			continue
		}
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			itop := strings.SplitN(strings.TrimPrefix(imp, mod), "/", 2)[0]
			if itop == "internal" {
				continue // test support shared by every layer
			}
			good := false
			for _, a := range ok {
				good = good || a == itop
			}
			if !good {
				t.Errorf("%s imports %s: %s may not depend on %s", pkg, imp, top, itop)
			}
		}
	}
}
