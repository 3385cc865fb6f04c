// Command execkit-core is execkit: it gives AI agents persistent,
// structured, safe shell sessions and records every step (docs/cli.md).
// It is started by the small execkit program in front of it
// (cmd/execkit), which answers what needs no more at once.
package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/execkit/execkit/internal/version"
)

// execkitVersion is the version everything reports (internal/version).
func execkitVersion() string { return version.String() }

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	cmd := ""
	if len(args) > 1 {
		cmd = args[1]
	}
	return exitCode(cmd, app.Run(flagsFirst(app, args)), stderr)
}

// flagsFirst lets flags come after the arguments, as people type them
// (`execkit undo 3 --journal run.db`, `execkit log run.db --json`): the
// command line library stops at the first argument that is not a flag, so
// the arguments are moved after the flags. exec, record and setup keep their
// order: their arguments are a command line of their own, whose words may
// look like flags. Everything after "--" stays an argument.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 3 || args[1] == "exec" || args[1] == "record" || args[1] == "setup" {
		return args
	}
	cmd := app.Command(args[1])
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		if _, isBool := f.(*cli.BoolFlag); isBool {
			continue
		}
		for _, n := range f.Names() {
			takesValue[n] = true
		}
	}
	var flags, rest []string
	for i := 2; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			rest = append(rest, a)
		}
	}
	out := append(append([]string{}, args[:2]...), flags...)
	if len(rest) > 0 {
		out = append(append(out, "--"), rest...)
	}
	return out
}

func init() {
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintln(c.App.Writer, versionLine()) }
	// -V as well, as the original execkit-mcp took it.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Aliases: []string{"v", "V"}, Usage: "print the version"}
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:      "execkit",
		Usage:     "persistent, structured, safe shell sessions for AI agents",
		Version:   execkitVersion(),
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are printed once, by exitCode.
		ExitErrHandler:       func(*cli.Context, error) {},
		EnableBashCompletion: true,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{usageHint(err.Error())}
		},
		CommandNotFound: func(c *cli.Context, name string) {},
		Commands: []*cli.Command{
			execCommand(),
			shellCommand(),
			logCommand(),
			showCommand(),
			verifyCommand(),
			exportCommand(),
			undoCommand(),
			replayCommand(),
			diffCommand(),
			mcpCommand(),
			recordCommand(),
			setupCommand(),
			doctorCommand(),
			viewCommand(),
			watchCommand(),
			versionCommand(),
			completionCommand(),
			manCommand(),
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				if near := closest(c.Args().First(), c.App.Commands); near != "" {
					return usagef("unknown command %q: did you mean %q? (try 'execkit --help')", c.Args().First(), near)
				}
				return usagef("unknown command %q (try 'execkit --help')", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	for _, cmd := range app.Commands {
		if cmd.OnUsageError == nil {
			cmd.OnUsageError = app.OnUsageError
		}
	}
	return app
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			fmt.Fprintln(c.App.Writer, versionLine())
			return nil
		},
	}
}

// versionLine is what `execkit version` and `execkit --version` print.
func versionLine() string { return version.Line() }

// joinArgs makes one command line of the arguments after the flags.
func joinArgs(c *cli.Context) (string, error) {
	if !c.Args().Present() {
		return "", usagef("%s: no command given", c.Command.Name)
	}
	return strings.Join(c.Args().Slice(), " "), nil
}

// durationFlag finds the flag in urfave/cli's message for a value it could
// not parse.
var durationFlag = regexp.MustCompile(`^invalid value "([^"]*)" for flag -([a-z-]+): parse error`)

// usageHint makes the command line library's messages say what was
// expected: a duration needs a unit.
func usageHint(msg string) string {
	if m := durationFlag.FindStringSubmatch(msg); m != nil {
		switch m[2] {
		case "timeout", "idle-ttl", "kill-grace":
			return fmt.Sprintf("--%s %q: a duration needs a unit, like 90s, 10m or 1h30m", m[2], m[1])
		}
		return fmt.Sprintf("--%s %q: not a valid value for it (see execkit help)", m[2], m[1])
	}
	return msg
}

// closest is the command name nearest to name, when one is near enough
// to be a slip (two edits at most).
func closest(name string, cmds []*cli.Command) string {
	best, bestD := "", 3
	for _, c := range cmds {
		for _, n := range c.Names() {
			if d := editDistance(name, n); d < bestD {
				best, bestD = n, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
