package remote

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/execkit/execkit/transport"
)

// PipeSetup makes the process's stdin its command channel (descriptor 3)
// and gives it an empty stdin, for a target that offers only the three
// standard streams.
const PipeSetup = "exec 3<&0 </dev/null || exit 125; "

// TTYRelayScript runs on a second channel of a terminal process: it makes
// two FIFOs in a private temporary directory, prints the directory, then
// copies its stdin into the first (the command channel) and the second
// (the process's stderr) to its stdout. TTYSetup opens the other ends.
const TTYRelayScript = `d=$(mktemp -d) && mkfifo "$d/c" "$d/e" || exit 125; echo "$d"; cat "$d/e" & exec cat >"$d/c"`

// TTYSetup opens the FIFOs of dir (made by TTYRelayScript) as descriptor 3
// and stderr, removes them once both ends are open, and sets the terminal
// up as the local transport does: no echo, no output post-processing, reads
// that return end-of-file at once, the given size.
func TTYSetup(dir string, rows, cols int) string {
	q := transport.ShellQuote(dir)
	return "exec 3<" + q + "/c 2>" + q + "/e && rm -rf " + q + " || exit 125; " +
		"stty -echo -onlcr -icanon min 0 time 0 rows " + strconv.Itoa(rows) + " cols " + strconv.Itoa(cols) + " 2>/dev/null; "
}

// StartScript is the sh script that turns a process on a remote target into
// what the transport contract promises and then becomes the program, given
// as the script's positional parameters ("$@"): after setup, it changes to
// opts.Dir, replaces the environment with opts.Env (when not nil), reports
// its pid as the first line on stderr (or that the program is missing) and
// execs the program, keeping the pid.
func StartScript(opts transport.StartOptions, setup string) string {
	var b strings.Builder
	b.WriteString(setup)
	if opts.Dir != "" {
		b.WriteString("cd -- " + transport.ShellQuote(opts.Dir) + " || exit 125; ")
	}
	b.WriteString(`command -v "$1" >/dev/null 2>&1 || { printf '\036EKNOPROG\n' >&2; exit 127; }; `)
	b.WriteString(`printf '\036EKPID %d\n' $$ >&2; exec `)
	if opts.Env != nil {
		b.WriteString("env -i")
		for _, kv := range opts.Env {
			b.WriteString(" " + transport.ShellQuote(kv))
		}
		b.WriteString(" ")
	}
	b.WriteString(`"$@"`)
	return b.String()
}

// ReadHeader reads the first line StartScript prints on stderr and returns
// the program's pid; what stderr said before, when the program never
// started, goes into the error. It gives up after limit.
func ReadHeader(ctx context.Context, stderr *bufio.Reader, target string, limit time.Duration) (int, error) {
	type hdr struct {
		line string
		err  error
	}
	ch := make(chan hdr, 1)
	go func() {
		var pre strings.Builder
		for {
			line, err := stderr.ReadString('\n')
			if strings.HasPrefix(line, "\x1eEK") {
				ch <- hdr{line: line}
				return
			}
			if pre.Len() < 4096 {
				pre.WriteString(line)
			}
			if err != nil {
				ch <- hdr{err: fmt.Errorf("%s: the program ended before it started: %s", target, strings.TrimSpace(pre.String()))}
				return
			}
		}
	}()
	var h hdr
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case h = <-ch:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-t.C:
		return 0, fmt.Errorf("%s: the program did not start within %s", target, limit)
	}
	if h.err != nil {
		return 0, h.err
	}
	if strings.HasPrefix(h.line, "\x1eEKNOPROG") {
		return 0, fmt.Errorf("%s: %w", target, transport.ErrNoShell)
	}
	var pid int
	if _, err := fmt.Sscanf(h.line, "\x1eEKPID %d\n", &pid); err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s: unexpected start line %q", target, h.line)
	}
	return pid, nil
}
