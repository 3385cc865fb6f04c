package session

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/execkit/execkit/transport"
)

// dialect is the shell language the frame is written in.
//
// For bash the frame logic is stored once, in a read-only variable, and each
// command costs one short line plus its payload: bash reads a script from a
// pipe one byte at a time, but `read -N` takes the payload in one read. For
// a POSIX sh the whole frame is sent with every command.
type dialect struct {
	kind string // "bash" or "sh"
}

var (
	bashDialect = dialect{kind: "bash"}
	shDialect   = dialect{kind: "sh"}
)

// shQuote quotes s as one single-quoted shell word.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Flags carried in the payload, as one octal digit.
const (
	flagEnv   = 1 // report the exported environment
	flagFds   = 2 // check the saved descriptors before restoring them
	flagTraps = 4 // clear the DEBUG trap after the command
)

// bashFuncs is the frame logic of the bash dialect, parsed once per shell
// and made read-only so that no command can unset or redefine it.
//
// The shell runs commands in a loop it parses once (frameLoop): bash reads
// a script from a pipe a byte at a time, and a frame line parsed per
// command cost more than everything else the frame does. Each turn,
// __ek1 reads the next frame from the shell's own close-on-exec script
// descriptor with two reads of known length: an 8-byte header (a digit of
// frame flags, then the payload's length in 7 digits) and the payload
// (flags, escaped command). It turns tracing back on if the previous
// command left it on. The command is evaluated at the top level, so its
// declare and local mean what they mean at a prompt, inside a one-pass
// loop: at a timeout or a cancel the shell itself gets SIGUSR2 (before its
// jobs get SIGINT), and the interrupt trap breaks out of every loop once
// the running command ends, so the rest of the command line never runs (a
// trap is the only way a non-interactive shell abandons a list; without it
// the shell would go on to the next command). USR2, not INT: scripts trap
// and ignore INT, and children inherit an ignored INT. A break cannot
// leave a shell function, so inside one the trap ends the shell instead
// (the session replaces it). __eki says the command is running: a late
// signal outside it does nothing.
// A command that leaves the frame loop (the interrupt trap, or its own
// break 2), and one run in the loop's tail (see frameLoop), ends with the
// trailer of the loop's tail, marked L: the shell
// then parses what comes next, and the session sends the loop again with
// the next frame. One that skips the end of the turn (continue 2) finds
// the next turn's __ek1 running an empty command in its place, so that the
// turn's end still clears its traps and prints its trailer; if that turn
// is skipped too (a trap that continues), or the command text cannot be
// emptied, the shell exits with status 211, and never runs a command twice.
// __ek2 saves the status and the shell flags, reads the nonce that ends
// this command's frame (sent after the payload, so that it is in no variable
// while the command runs; a command that took it from the script descriptor
// leaves the frame without one: __ek2 then reads the start of the next
// command's frame instead, reports what it read on the saved stderr
// (\036X…\036, so that the session knows that command never ran) and ends
// the shell, or, when no next frame comes within 5 seconds, ends it
// quietly. (The nonce is read at once when it is there, as it is when the
// frame was small enough to be written whole; the timed read, which costs
// more, is only for a nonce that is late or gone; after a frame too big to
// be written at once (header flag 2) __ek2 waits for it (__ekw).) It then
// turns tracing off, restores the descriptors saved at start-up, so no
// redirection the command made can hide the end markers, and prints them:
// first the trailer on stderr (exit status, working directory, flags and,
// when asked, the exported environment), then the stdout marker, so that
// when the reader sees the end of stdout the end of stderr is already
// waiting. If the frame cannot be read or the trailer printed (a command
// disabled read or printf, closed the script descriptor, made a frame
// variable read-only), or, after a command that may have (flagFds), a saved
// descriptor is closed, the shell exits at once with status 211
// (frameFailed), silently (its errors go to descriptor 63, /dev/null), and
// is replaced, rather than run half a frame. (The end of a frame sets its
// variables with declare, which fails on a read-only one: a plain
// assignment would abandon the whole loop, and the shell would wait for
// more script until the command's timeout.) (Each descriptor is tried in a
// command of its own: bash may put a descriptor it saves for one
// redirection in the number of a closed one, so that a later redirection
// in the same command finds it open.) Between commands tracing is off, so
// the frame itself is never traced or echoed. Whatever else a command may
// have done to the frame (an alias for "for", a function named like a
// builtin) the session finds with an empty framed command after it
// (Session.frameIntact).
// For transports whose job marks come from the shell (FrameMarker): with
// header flag 1 __ek1 prints the mark (time since boot and newest pid,
// \036M…\036) on stderr before the command runs, and with __ekm set (at
// start-up, read-only) __ek2 puts the newest pid as the command ended into
// the trailer's M field, the next command's mark.
const bashFuncs = `__ek1() {
  [ -z "${__eki-}" ] || { [ -n "$__ekc" ] && builtin printf -v __ekc "" && builtin return 0; builtin exit 211; exit 211; } 2>&63
  __ekh= __ekc=
  until IFS= builtin read -rN8 -u255 __ekh; do [ $? -gt 128 ] || { builtin exit 211; exit 211; } 2>&63; done
  case $__ekh in
  [0-7][0-9][0-9][0-9][0-9][0-9][0-9][0-9]) IFS= builtin read -rN"${__ekh:1}" -u255 __ekc || { builtin exit 211; exit 211; } 2>&63;;
  *) { builtin exit 211; exit 211; } 2>&63; __ekz=; __ekz=${__ekz:?};;
  esac
  __ekd=${__ekc:0:1} __ekc=${__ekc:1} || { builtin exit 211; exit 211; } 2>&63
  case $__ekc in *\\*) builtin printf -v __ekc %b "$__ekc";; esac
  case $__ekh in
  0*) __ekw=;;
  *) case $__ekh in [1357]*) { builtin read -r __eku __ekx </proc/uptime && builtin read -r __ekx __ekx __ekx __ekx __ekp </proc/loadavg && builtin printf '\036M%s %s\036' "$__eku" "$__ekp" >&62; } 2>&63;; esac
    case $__ekh in [2367]*) __ekw=1;; *) __ekw=;; esac
    case $__ekh in [4567]*) builtin declare -g __ekt=1 __eki=1 || { builtin exit 211; exit 211; } 2>&63; builtin return 1;; esac;;
  esac
  case $__ekf in *v*) builtin set -v;; esac; case $__ekf in *x*) builtin set -x;; esac
  __eki=1
}
__ek2() {
  { builtin declare -g __ekr=${1-$?} __eki= __ekf=$- __ekt= && if [ -n "${__ekw-}" ] || builtin read -t 0 -u255; then builtin read -rN32 -u255 __ekn; else builtin read -t 5 -rN32 -u255 __ekn; fi && [[ ${#__ekn} = 32 && $__ekn != *[!0-9a-f]* ]] && { [ -z "${__ekm-}" ] || builtin read -r __ekx __ekx __ekx __ekx __ekj </proc/loadavg || __ekj=; }; } 2>&63 || { [ -z "${__ekn-}" ] || builtin printf '\036X%s\036' "$__ekn" >&62; builtin exit 211; exit 211; } 2>&63
  case $__ekf in *[xv]*) builtin set +xv 2>&63;; esac
  case $__ekd in [2367]) { true >&61; } 2>&63 && { true >&62; } 2>&63 && { true <&60; } 2>&63 || { builtin exit 211; exit 211; } 2>&63;; esac
  exec 0<&60 1>&61 2>&62
  case $__ekd in
  [1357]) { builtin printf '\036E%s\036%s\036C%s\036%s\036F%s\036%s%s\036M%s\036%s %s\036V%s\036' "$__ekn" "$__ekr" "$__ekn" "${PWD-}" "$__ekn" "$__ekf" "${2:+ L}" "$__ekn" "" "${__ekj-}" "$__ekn" 2>&63 || { builtin exit 211; exit 211; } 2>&63
      builtin export -p; builtin printf '\036T%s\036' "$__ekn"; } >&2;;
  *) builtin printf '\036E%s\036%s\036C%s\036%s\036F%s\036%s%s\036M%s\036%s %s\036V%s\036\036T%s\036' "$__ekn" "$__ekr" "$__ekn" "${PWD-}" "$__ekn" "$__ekf" "${2:+ L}" "$__ekn" "" "${__ekj-}" "$__ekn" "$__ekn" >&2 2>&63 || { builtin exit 211; exit 211; } 2>&63;;
  esac
  builtin printf '\036E%s\036' "$__ekn"
  __ekn=
}
`

// frameLoop is the loop the bash dialect runs commands in (see bashFuncs),
// sent before the first frame and again after a command left it. A
// command that may set a trap (header flag 4) runs in the loop's tail
// instead, outside any loop of the frame's, so that a DEBUG trap that
// breaks or continues cannot keep the loop from reading the next frame;
// after it the DEBUG trap is cleared at the top level (bash saves and
// restores it around a function call) and the interrupt trap put back.
// Backslashes keep aliases away.
const frameLoop = `while \__ek1; do for __ekl in 1; do \builtin eval "$__ekc"; done; \__ek2; done; case ${__ekt-} in 1) __ekt=; case $__ekf in *v*) \builtin set -v;; esac; case $__ekf in *x*) \builtin set -x;; esac; for __ekl in 1; do \builtin eval "$__ekc"; done; { \builtin declare __ekq=$? || { \builtin exit 211; exit 211; }; } 2>&63; \builtin trap - DEBUG; \builtin ` + interruptTrap + `; \__ek2 "$__ekq" L;; *) \__ek2 "$?" L;; esac` + "\n"

// frameFailed is the status the frame exits the shell with when it cannot
// run (see bashFuncs): the shell is then replaced even when the session
// does not re-spawn shells that a command ended.
const frameFailed = 211

// interruptTrap abandons the command line the frame is running (see
// bashFuncs); installed when the shell starts, and again after any command
// that names trap.
const interruptTrap = `trap '[ -z "${__eki-}" ] || { [ -z "${FUNCNAME-}" ] || builtin exit 130; break 1000; }' USR2`

// shInterruptTrap is interruptTrap for a POSIX sh, which has no FUNCNAME.
const shInterruptTrap = `trap '[ -z "${__eki-}" ] || break 1000' USR2`

// bootstrap saves the original descriptors (stdin at 60, stdout at 61,
// stderr at 62, or 7/8/9 for sh, whose redirections take one digit), opens
// /dev/null at 63 for the frame's own errors (bash), closes the command
// channel's descriptor 3 (bash keeps its own close-on-exec copy, which __ek1
// reads), installs the frame logic and the interrupt trap and moves to dir.
// With endMark a bash puts the job mark in every trailer (see bashFuncs).
func (d dialect) bootstrap(dir string, endMark bool) string {
	var s strings.Builder
	if d.kind == "bash" {
		s.WriteString("exec 60<&0 61>&1 62>&2 63>/dev/null 3<&-\n" + bashFuncs + "builtin readonly -f __ek1 __ek2; __ekf=$-; " + interruptTrap)
		if endMark {
			s.WriteString("; builtin readonly __ekm=1")
		}
	} else {
		s.WriteString("exec 7<&0 8>&1 9>&2 3<&-; __ekf=$-")
	}
	if dir != "" {
		s.WriteString("; cd -- " + shQuote(dir) + " 2>/dev/null")
	}
	s.WriteString("\n")
	return s.String()
}

var trapWord = regexp.MustCompile(`\btrap\b`)

// frameFlags says what the frame must do besides running cmd.
func frameFlags(cmd string, withEnv bool) int {
	f := 0
	if withEnv {
		f |= flagEnv
	}
	if trapWord.MatchString(cmd) {
		f |= flagTraps
	}
	if mayBreakFrame(cmd) {
		// It may have closed a saved descriptor, which would make the
		// shell exit when the frame restores them.
		f |= flagFds
	}
	return f
}

// frame is what runs cmd and marks its end with nonce. With mark, the shell
// first reports on stderr the newest process id and its time since boot
// (\036M<uptime> <pid>\036), the mark that tells the command's processes
// from older ones; with endMark (sh; a bash was told at start-up) it
// reports the same in the trailer, at the command's end, as the mark of the
// next command. inLoop says a bash waits in its frame loop for the next
// frame; otherwise the loop goes first.
func (d dialect) frame(nonce, cmd string, withEnv, mark, endMark, inLoop bool) string {
	flags := frameFlags(cmd, withEnv)
	if d.kind != "bash" {
		return d.shFrame(nonce, cmd, flags, mark, endMark)
	}
	payload := strconv.Itoa(flags) + escapePayload(cmd)
	// The nonce follows the payload on the script descriptor, where __ek2
	// reads it once the command has ended: while the command runs it is
	// in no variable the command could read. A frame small enough to be
	// written at once is in the pipe before the command starts, so a
	// nonce that is not there when it ends was taken; after a larger one
	// __ek2 waits for it (header flag 2).
	size := frameHeader + len(payload) + len(nonce)
	if !inLoop {
		size += len(frameLoop)
	}
	var s strings.Builder
	s.Grow(size)
	if !inLoop {
		s.WriteString(frameLoop)
	}
	h := 0
	if mark {
		h |= 1
	}
	if size > smallFrame {
		h |= 2
	}
	if flags&flagTraps != 0 {
		h |= 4
	}
	s.WriteString(strconv.Itoa(h))
	n := strconv.Itoa(len(payload))
	s.WriteString("0000000"[:frameHeader-1-len(n)])
	s.WriteString(n)
	s.WriteString(payload)
	s.WriteString(nonce)
	return s.String()
}

// frameHeader is the length of a bash frame's header: a digit of flags
// and the payload's length in 7 digits (a payload is at most four times
// MaxCommandBytes, plus one).
const frameHeader = 8

// staleFrame is what the shell prints on stderr before it exits when it
// finds, where a command's nonce should be, the start of the frame it was
// sent next: an earlier command took its nonce, and the command of that
// frame never ran.
func (d dialect) staleFrame(frame string) string {
	if d.kind != "bash" {
		return ""
	}
	return "\x1eX" + frame[:min(32, len(frame))] + "\x1e"
}

// escapePayload makes cmd pure printable ASCII for `read -N` (which counts
// characters, not bytes) by writing backslashes, control bytes and non-ASCII
// bytes as \xHH, which printf %b turns back.
func escapePayload(cmd string) string {
	clean := true
	for i := 0; i < len(cmd); i++ {
		if c := cmd[i]; c == '\\' || c >= 0x7f || c < 0x20 && c != '\n' && c != '\t' {
			clean = false
			break
		}
	}
	if clean {
		return cmd
	}
	const hexdigits = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(cmd) + 16)
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		if c == '\\' || c >= 0x7f || c < 0x20 && c != '\n' && c != '\t' {
			b.WriteString("\\x")
			b.WriteByte(hexdigits[c>>4])
			b.WriteByte(hexdigits[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// shFrame is the POSIX sh frame: one self-contained line per command, with
// the same markers and trailer as the bash frame.
func (d dialect) shFrame(nonce, cmd string, flags int, mark, endMark bool) string {
	var s strings.Builder
	s.Grow(len(cmd) + 600)
	if mark {
		s.WriteString("{ read -r __eku __ekx </proc/uptime && read -r __ekx __ekx __ekx __ekx __ekp </proc/loadavg && printf '\\036M%s %s\\036' \"$__eku\" \"$__ekp\" >&9; } 2>/dev/null; ")
	}
	s.WriteString(shInterruptTrap + "; ")
	s.WriteString("case $__ekf in *v*) set -v;; esac; case $__ekf in *x*) set -x;; esac; ")
	s.WriteString("__eki=1; for __ekl in 1; do eval " + shQuote(cmd) + "; done; ")
	s.WriteString("__ekr=$? __eki= __ekf=$-; set +xv; ")
	if endMark {
		s.WriteString("{ read -r __ekx __ekx __ekx __ekx __ekj </proc/loadavg; } 2>/dev/null || __ekj=; ")
	}
	s.WriteString("exec 0<&7 1>&8 2>&9; ")
	s.WriteString("printf '\\036E%s\\036' " + nonce + " >&8; ")
	s.WriteString("{ printf '\\036E%s\\036%s\\036C%s\\036%s\\036F%s\\036%s\\036M%s\\036%s %s\\036V%s\\036' " + nonce + ` "$__ekr" ` + nonce + ` "${PWD-}" ` + nonce + ` "$__ekf" ` + nonce + ` "" "${__ekj-}" ` + nonce + "; ")
	if flags&flagEnv != 0 {
		s.WriteString("export -p; ")
	}
	s.WriteString("printf '\\036T%s\\036' " + nonce + "; } >&9\n")
	return s.String()
}

// shell is one running shell process and the pumps draining its streams.
type shell struct {
	proc    transport.Process
	dialect dialect
	kind    string
	tty     bool
	src     outputSource
	// endMark: the trailer carries the next command's job mark
	// (transports that are FrameMarkers).
	endMark bool
	// nextMark is the job mark the last command's trailer reported, for
	// the next command.
	nextMark transport.JobMark
	// inLoop: a bash waits in its frame loop for the next frame.
	inLoop bool
}

// shellArgv says what to start. With no shell named, a POSIX sh picks bash
// when the target has it.
func shellArgv(name string) []string {
	switch {
	case name == "":
		return []string{"sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash --noprofile --norc /dev/fd/3; fi; exec sh /dev/fd/3"}
	case path.Base(name) == "bash":
		return []string{name, "--noprofile", "--norc", "/dev/fd/3"}
	default:
		return []string{name, "/dev/fd/3"}
	}
}

const startTimeout = 15 * time.Second

// pollSlice bounds each wait for output, so that the process ending, the
// context, Close and the timeout stages are noticed in time.
const pollSlice = 50 * time.Millisecond

func startShell(ctx context.Context, tr transport.Transport, opts Options, dir string, env []string, check func(*transport.ExecStart) error) (*shell, error) {
	so := transport.StartOptions{Argv: shellArgv(opts.Shell), Env: env, TTY: opts.TTY, ExecCheck: check}
	if dir == opts.Dir {
		so.Dir = dir // a re-spawn moves with cd, which may fail softly
	}
	proc, err := tr.Start(ctx, so)
	if err != nil {
		return nil, fmt.Errorf("session: start shell: %w", err)
	}
	sh := &shell{proc: proc, tty: opts.TTY, src: newSource(proc.Stdout(), proc.Stderr())}
	if fm, ok := proc.(transport.FrameMarker); ok {
		sh.endMark = fm.FrameMarks()
	}
	kind, err := sh.probe(ctx)
	if err != nil {
		sh.close()
		return nil, err
	}
	sh.kind = kind
	sh.dialect = shDialect
	if kind == "bash" {
		sh.dialect = bashDialect
	}
	if _, err := io.WriteString(proc.Input(), sh.dialect.bootstrap(dir, sh.endMark)); err != nil {
		sh.close()
		return nil, fmt.Errorf("session: start shell: %w", err)
	}
	return sh, nil
}

// probe asks the new shell which dialect it speaks, and reports a clear error
// with what it printed on stderr when it does not answer.
func (sh *shell) probe(ctx context.Context) (string, error) {
	nonce := newNonce()
	line := `printf '\036K%s%s\036' ` + nonce + ` "${BASH_VERSION:+bash}"` + "\n"
	go io.WriteString(sh.proc.Input(), line)
	marker := []byte("\x1eK" + nonce)
	var got, stderr bytes.Buffer
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("session: start shell: %w", ctx.Err())
		default:
		}
		i, data, eof, ok := sh.src.next(pollSlice)
		switch {
		case !ok:
			select {
			case <-sh.proc.Done():
				sh.drainInto(&stderr, 100*time.Millisecond)
				return "", sh.startError(fmt.Sprintf("exited with code %d", sh.proc.ExitCode()), &stderr)
			default:
			}
		case i == 1:
			if !eof && stderr.Len() < 4096 {
				stderr.Write(data)
			}
		case eof:
			sh.drainInto(&stderr, 100*time.Millisecond)
			return "", sh.startError("closed its output", &stderr)
		default:
			got.Write(data)
			if j := bytes.Index(got.Bytes(), marker); j >= 0 {
				rest := got.Bytes()[j+len(marker):]
				if k := bytes.IndexByte(rest, 0x1e); k >= 0 {
					if string(rest[:k]) == "bash" {
						return "bash", nil
					}
					return "sh", nil
				}
			}
		}
	}
	return "", sh.startError("did not answer within "+startTimeout.String(), &stderr)
}

func (sh *shell) startError(what string, stderr *bytes.Buffer) error {
	msg := strings.TrimSpace(stderr.String())
	if msg != "" {
		return fmt.Errorf("session: shell %s at start: %s", what, msg)
	}
	return fmt.Errorf("session: shell %s at start", what)
}

func (sh *shell) drainInto(buf *bytes.Buffer, d time.Duration) {
	deadline := time.Now().Add(d)
	for left := d; left > 0; left = time.Until(deadline) {
		i, data, eof, ok := sh.src.next(left)
		if !ok || i == 1 && eof {
			return
		}
		if i == 1 {
			buf.Write(data)
		}
	}
}

// drain feeds the parsers what is still buffered or arrives within d after
// the shell ended, stopping early once both streams reach end-of-file.
func (sh *shell) drain(out, errp *frameParser, d time.Duration) {
	deadline := time.Now().Add(d)
	for left := d; !(out.done && errp.done); left = time.Until(deadline) {
		if left <= 0 {
			break
		}
		i, data, eof, ok := sh.src.next(left)
		if ok {
			feed([2]*frameParser{out, errp}[i], data, eof)
		}
	}
	out.eof()
	errp.eof()
}

// feed passes one arrival to a stream's parser.
func feed(p *frameParser, data []byte, eof bool) {
	if eof {
		p.eof()
	} else if !p.done {
		p.feed(data)
	}
}

func (sh *shell) close() error {
	err := sh.proc.Close()
	sh.src.stop()
	return err
}
