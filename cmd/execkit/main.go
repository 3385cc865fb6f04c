// Command execkit gives AI agents persistent, structured, safe shell
// sessions and records every step. See docs/cli.md.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// version is set by the release build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	return exitCode(app.Run(args), stderr)
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:      "execkit",
		Usage:     "persistent, structured, safe shell sessions for AI agents",
		Version:   version,
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are printed once, by exitCode.
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err.Error()}
		},
		CommandNotFound: func(c *cli.Context, name string) {},
		Commands: []*cli.Command{
			execCommand(),
			shellCommand(),
			logCommand(),
			showCommand(),
			verifyCommand(),
			exportCommand(),
			versionCommand(),
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("unknown command %q (try 'execkit --help')", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = app.OnUsageError
	}
	return app
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" && len(s.Value) >= 12 {
						v += " (" + s.Value[:12] + ")"
					}
				}
				fmt.Fprintf(c.App.Writer, "execkit %s %s\n", v, bi.GoVersion)
				return nil
			}
			fmt.Fprintf(c.App.Writer, "execkit %s\n", v)
			return nil
		},
	}
}

// joinArgs makes one command line of the arguments after the flags.
func joinArgs(c *cli.Context) (string, error) {
	if !c.Args().Present() {
		return "", usagef("%s: no command given", c.Command.Name)
	}
	return strings.Join(c.Args().Slice(), " "), nil
}
