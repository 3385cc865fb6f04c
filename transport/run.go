package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
)

// maxRunOutput bounds what Run keeps of each stream.
const maxRunOutput = 64 << 20

// Run starts argv through tr, gives it input on descriptor 3 (then
// end-of-file), waits for it to end and returns what it printed and its
// exit code. It is for short helper programs (git on a target, say), not
// for sessions. Cancelling ctx kills the program.
func Run(ctx context.Context, tr Transport, argv []string, input []byte) (stdout, stderr []byte, code int, err error) {
	p, err := tr.Start(ctx, StartOptions{Argv: argv})
	if err != nil {
		return nil, nil, -1, err
	}
	defer p.Close()
	go func() {
		if len(input) > 0 {
			p.Input().Write(input)
		}
		p.Input().Close()
	}()
	var out, errb limitedBuffer
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); io.Copy(&out, p.Stdout()) }()
	go func() { defer wg.Done(); io.Copy(&errb, p.Stderr()) }()
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.Close()
		return out.Bytes(), errb.Bytes(), -1, ctx.Err()
	}
	streams := make(chan struct{})
	go func() { wg.Wait(); close(streams) }()
	select {
	case <-streams:
	case <-ctx.Done():
		return out.Bytes(), errb.Bytes(), p.ExitCode(), ctx.Err()
	}
	if out.over || errb.over {
		return out.Bytes(), errb.Bytes(), p.ExitCode(), fmt.Errorf("transport: %s printed more than %d bytes", argv[0], maxRunOutput)
	}
	return out.Bytes(), errb.Bytes(), p.ExitCode(), nil
}

// ScriptRunner returns a function that runs a POSIX sh script through tr
// with Run (the shape undo.Runner takes).
func ScriptRunner(tr Transport) func(ctx context.Context, script string) ([]byte, []byte, int, error) {
	return func(ctx context.Context, script string) ([]byte, []byte, int, error) {
		return Run(ctx, tr, []string{"sh", "-c", script}, nil)
	}
}

// limitedBuffer keeps the first maxRunOutput bytes and drops the rest.
type limitedBuffer struct {
	bytes.Buffer
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxRunOutput - b.Len(); room < len(p) {
		b.over = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
