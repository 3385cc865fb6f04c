package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// bashCompletion asks execkit itself (--generate-bash-completion) for the
// words that may come next.
const bashCompletion = `# execkit completion for bash: source it, or put it in
# /etc/bash_completion.d/execkit
_execkit_complete() {
	local cur="${COMP_WORDS[COMP_CWORD]}" words
	words=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _execkit_complete execkit
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print shell completion for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "bash: source <(execkit completion bash)\n" +
			"zsh:  source <(execkit completion zsh)\n" +
			"fish: execkit completion fish > ~/.config/fish/completions/execkit.fish",
		Action: func(c *cli.Context) error {
			switch c.Args().First() {
			case "bash":
				fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				fmt.Fprint(c.App.Writer, "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"+bashCompletion)
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				fmt.Fprint(c.App.Writer, s)
			default:
				return usagef("completion: name a shell: bash, zsh or fish")
			}
			return nil
		},
	}
}

func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print execkit's manual page (roff): execkit man > execkit.1; man ./execkit.1",
		Hidden: false,
		Action: func(c *cli.Context) error {
			s, err := c.App.ToManWithSection(1)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(c.App.Writer, s)
			return err
		},
	}
}
