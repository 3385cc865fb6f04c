// Package version is what every execkit program says of its version: the
// release build's (set with -ldflags "-X
// github.com/execkit/execkit/internal/version.Release=..."), else the
// module version Go stamped into the binary (`go install …@v1.2.3`), else
// "dev". It links nothing heavy: the small execkit front answers
// --version from it without starting the rest.
package version

import "runtime/debug"

// Release is set by the release build.
var Release = "dev"

// String is the version everything reports (--version, version, doctor,
// journals, the MCP server).
func String() string {
	if Release != "dev" {
		return Release
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return Release
}

// Line is what `execkit version` and `execkit --version` print: the
// version, the commit it was built from when Go recorded one, and Go's.
func Line() string {
	v := String()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		return "execkit " + v + " " + bi.GoVersion
	}
	return "execkit " + v
}
