// Command execkit-shim stands in for the shells of an agent that
// `execkit record` runs (package internal/capture): a program that links
// nothing but the capture code, so that a shell start costs about a
// millisecond more, not the tens execkit's own start takes. Installed
// next to execkit, record uses it.
package main

import (
	"fmt"
	"os"

	"github.com/execkit/execkit/internal/capture"
)

func main() {
	capture.Main() // does not return when it is a shim
	fmt.Fprintln(os.Stderr, "execkit-shim: started outside execkit record; it stands in for shells there and does nothing else")
	os.Exit(64)
}
