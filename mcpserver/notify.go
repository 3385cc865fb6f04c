package mcpserver

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Notifications while a command runs: its new output as log messages
// (info), at most every streamGap, and progress notifications (with the
// last line, or the time it has run) when the call carries a progress
// token. The client's logging/setLevel decides which log messages it
// gets; the whole result still comes in the tool's answer.

const (
	streamGap = 250 * time.Millisecond
	// streamMax bounds the output sent as notifications for one command;
	// the result has it all the same.
	streamMax = 256 << 10
)

// streamer sends one running command's notifications.
type streamer struct {
	req     *mcp.CallToolRequest
	ctx     context.Context
	session string
	command string
	// transport is the session's kind; prompt the transcript line the
	// first output message begins with ("CWD $ COMMAND"), empty after it.
	transport string
	prompt    string
	token     any
	start     time.Time

	mu      sync.Mutex
	pending map[string]*bytes.Buffer
	sent    int
	capped  bool
	n       float64 // progress notifications sent

	stopc chan struct{}
	done  chan struct{}
}

// startStream starts the notifications of a command; nil when the call
// came with no session to notify.
func startStream(ctx context.Context, req *mcp.CallToolRequest, l *live, command string) *streamer {
	if req == nil || req.Session == nil {
		return nil
	}
	st := &streamer{req: req, ctx: ctx, session: l.id, command: command, start: time.Now(),
		transport: l.o.Kind, prompt: l.cwd + " $ " + command,
		pending: map[string]*bytes.Buffer{"stdout": {}, "stderr": {}},
		stopc:   make(chan struct{}), done: make(chan struct{})}
	if req.Params != nil {
		st.token = req.Params.GetProgressToken()
	}
	go st.loop()
	return st
}

// output takes output as the session passes it on (session.ExecOptions).
func (st *streamer) output(stream string, p []byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.capped {
		return
	}
	if room := streamMax - st.sent - st.pending["stdout"].Len() - st.pending["stderr"].Len(); len(p) > room {
		p, st.capped = p[:max(room, 0)], true
	}
	st.pending[stream].Write(p)
}

func (st *streamer) loop() {
	defer close(st.done)
	tick := time.NewTicker(streamGap)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-st.stopc:
			st.flush()
			return
		case <-tick.C:
			if st.flush() {
				last = time.Now() // progress went with the output
			} else if st.token != nil && time.Since(last) >= time.Second {
				st.progress(fmt.Sprintf("[%s] $ %s: running for %s", st.session, oneLine(st.command), time.Since(st.start).Round(time.Second)))
				last = time.Now()
			}
		}
	}
}

// flush sends the pending output, and progress with its last line; it
// reports whether there was any.
func (st *streamer) flush() bool {
	st.mu.Lock()
	type chunk struct{ stream, text string }
	var chunks []chunk
	for _, name := range []string{"stdout", "stderr"} {
		if b := st.pending[name]; b.Len() > 0 {
			chunks = append(chunks, chunk{name, b.String()})
			st.sent += b.Len()
			b.Reset()
		}
	}
	capped := st.capped && st.sent >= streamMax
	prompt := st.prompt
	if len(chunks) > 0 {
		st.prompt = ""
	}
	st.mu.Unlock()
	for _, c := range chunks {
		// transcript is the output as lines, after the prompt line in the
		// command's first message: the shape the original's clients read.
		var lines []string
		if prompt != "" {
			lines, prompt = append(lines, prompt), ""
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(c.text, "\n"), "\n")...)
		data := map[string]any{"session": st.session, "transport": st.transport, "command": st.command,
			"stream": c.stream, "output": c.text, "transcript": lines}
		if capped {
			data["note"] = fmt.Sprintf("output past %d KiB is not sent as notifications; the result has it", streamMax>>10)
		}
		st.req.Session.Log(st.ctx, &mcp.LoggingMessageParams{Level: "info", Logger: "execkit", Data: data})
	}
	if len(chunks) > 0 {
		last := chunks[len(chunks)-1].text
		if i := bytes.LastIndexByte([]byte(last[:max(len(last)-1, 0)]), '\n'); i >= 0 {
			last = last[i+1:]
		}
		st.progress(fmt.Sprintf("[%s] $ %s: %s", st.session, oneLine(st.command), oneLine(last)))
	}
	return len(chunks) > 0
}

// progress sends a progress notification, when the call asked for them.
func (st *streamer) progress(msg string) {
	if st.token == nil {
		return
	}
	st.mu.Lock()
	st.n++
	n := st.n
	st.mu.Unlock()
	st.req.Session.NotifyProgress(st.ctx, &mcp.ProgressNotificationParams{ProgressToken: st.token, Progress: n, Message: msg})
}

// final sends the last progress notification, complete (progress equal
// to total), after those sent while the command ran.
func (st *streamer) final(msg string) {
	if st == nil || st.token == nil {
		return
	}
	st.mu.Lock()
	st.n++
	n := st.n
	st.mu.Unlock()
	st.req.Session.NotifyProgress(st.ctx, &mcp.ProgressNotificationParams{ProgressToken: st.token, Progress: n, Total: n, Message: msg})
}

// stop sends what is left; after it no notification of the command's
// output is sent.
func (st *streamer) stop() {
	if st == nil {
		return
	}
	close(st.stopc)
	<-st.done
}

// outputFunc is st.output, or nil without a streamer.
func (st *streamer) outputFunc() func(string, []byte) {
	if st == nil {
		return nil
	}
	return st.output
}

func oneLine(s string) string {
	s = string(bytes.TrimRight([]byte(s), "\n"))
	if r := []rune(s); len(r) > 200 {
		s = string(r[:199]) + "…"
	}
	return s
}
