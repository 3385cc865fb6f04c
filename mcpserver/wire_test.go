package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/target"
)

// wirePeer is a client speaking raw lines to a server served over pipes.
type wirePeer struct {
	t    *testing.T
	in   *io.PipeWriter
	out  *bufio.Reader
	done chan error
}

func newWirePeer(t *testing.T, maxLine, maxDepth int) *wirePeer {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Settings{Env: target.Env{Journal: j}})
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p := &wirePeer{t: t, in: inW, out: bufio.NewReaderSize(outR, 1<<20), done: make(chan error, 1)}
	go func() {
		err := s.srv.Run(context.Background(), &Wire{Reader: inR, Writer: outW, MaxLineBytes: maxLine, MaxDepth: maxDepth})
		outW.Close()
		p.done <- err
	}()
	t.Cleanup(func() {
		inW.Close()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Error("the server did not end when its input did")
		}
		s.Close()
		j.Close()
	})
	p.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"wire","version":"1"}}}`)
	if r := p.recv(); r["error"] != nil {
		t.Fatalf("initialize: %v", r)
	}
	p.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return p
}

func (p *wirePeer) send(line string) {
	p.t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := io.WriteString(p.in, line+"\n")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			p.t.Fatalf("write: %v", err)
		}
	case <-time.After(30 * time.Second):
		p.t.Fatal("the server stopped reading")
	}
}

// recv reads one reply line, keeping the id as sent.
func (p *wirePeer) recv() map[string]json.RawMessage {
	p.t.Helper()
	type line struct {
		b   []byte
		err error
	}
	ch := make(chan line, 1)
	go func() {
		b, err := p.out.ReadBytes('\n')
		ch <- line{b, err}
	}()
	select {
	case l := <-ch:
		if l.err != nil {
			p.t.Fatalf("no reply: %v (server: %v)", l.err, p.serverErr())
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(l.b, &m); err != nil {
			p.t.Fatalf("reply is not JSON: %q", l.b)
		}
		return m
	case <-time.After(30 * time.Second):
		p.t.Fatal("no reply within 30 s")
	}
	return nil
}

func (p *wirePeer) serverErr() error {
	select {
	case err := <-p.done:
		return fmt.Errorf("ended: %v", err)
	default:
		return nil
	}
}

func errorCode(m map[string]json.RawMessage) int {
	var e struct{ Code int }
	if json.Unmarshal(m["error"], &e) != nil {
		return 0
	}
	return e.Code
}

// malformed lines and the error each must get; none may end the server.
func malformed(maxLine, maxDepth int) []struct {
	line string
	code int
	id   string
} {
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	deepParams := `{"jsonrpc":"2.0","id":7,"method":"ping","params":{"a":` + strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth) + "}}"
	return []struct {
		line string
		code int
		id   string
	}{
		{"hello there", -32700, "null"},
		{"{", -32700, "null"},
		{"}", -32700, "null"},
		{`{"jsonrpc":"2.0","id":1,"method":`, -32700, "null"},
		{`{"jsonrpc":"2.0","id":1,"method":"ping"} trailing`, -32700, "null"},
		{`{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}`, -32700, "null"},
		{"\x00\x01\x02", -32700, "null"},
		{"123", -32600, "null"},
		{`"x"`, -32600, "null"},
		{"null", -32600, "null"},
		{"true", -32600, "null"},
		{"[]", -32600, "null"},
		{`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, -32600, "null"},
		{`{}`, -32600, "null"},
		{`{"id":3,"method":"ping"}`, -32600, "3"},
		{`{"jsonrpc":"1.0","id":4,"method":"ping"}`, -32600, "4"},
		{`{"jsonrpc":2.0,"id":5,"method":"ping"}`, -32600, "5"},
		{`{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":[1],"method":"ping"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":true,"method":"ping"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":null,"method":"ping"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":6,"method":42}`, -32600, "6"},
		{`{"jsonrpc":"2.0","id":6,"method":""}`, -32600, "6"},
		{`{"jsonrpc":"2.0","id":6}`, -32600, "6"},
		{`{"jsonrpc":"2.0","id":6,"result":{},"error":{"code":1,"message":"x"}}`, -32600, "6"},
		{`{"jsonrpc":"2.0","id":8,"method":"ping","params":[1,2]}`, -32602, "8"},
		{`{"jsonrpc":"2.0","id":"s","method":"ping","params":"x"}`, -32602, `"s"`},
		{deep, -32600, "null"},
		{deepParams, -32600, "null"},
		{`{"jsonrpc":"2.0","id":9,"method":"ping","pad":"` + strings.Repeat("x", maxLine) + `"}`, -32600, "null"},
		{`{"jsonrpc":"2.0","id":10,"method":"no/such/method"}`, -32601, "10"},
		{`{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"session_exec","arguments":"x"}}`, -32602, "11"},
		{`{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"arguments":{}}}`, -32602, "12"},
	}
}

func TestWireMalformed(t *testing.T) {
	const maxLine, maxDepth = 1 << 20, 64
	p := newWirePeer(t, maxLine, maxDepth)
	for i, c := range malformed(maxLine, maxDepth) {
		p.send(c.line)
		r := p.recv()
		if got := errorCode(r); got != c.code || string(r["id"]) != c.id {
			short := c.line
			if len(short) > 80 {
				short = short[:80] + "…"
			}
			t.Errorf("%d %q: error %d id %s, want %d id %s (%s %s)", i, short, got, r["id"], c.code, c.id, r["error"], r["result"])
		}
		// The server is alive and in step: the next request is answered.
		id := fmt.Sprintf(`"after-%d"`, i)
		p.send(`{"jsonrpc":"2.0","id":` + id + `,"method":"ping"}`)
		if r := p.recv(); string(r["id"]) != id || r["error"] != nil {
			t.Fatalf("after %q: %v", c.line, r)
		}
	}
}

// Ids are echoed exactly as sent, whatever JSON number or string they are.
func TestWireIDsEchoedExactly(t *testing.T) {
	p := newWirePeer(t, 0, 0)
	ids := []string{`1.5`, `9223372036854775808`, `-9223372036854775809`, `1e3`, `-0`, `1.0`,
		`10000000000000001`, `""`, `"a\"b"`, `"\u00e9\n"`, `"` + strings.Repeat("z", 5000) + `"`, `0`, `-1`}
	for _, id := range ids {
		p.send(`{"jsonrpc":"2.0","id":` + id + `,"method":"ping"}`)
		if r := p.recv(); string(r["id"]) != id || r["error"] != nil {
			t.Errorf("id %s came back as %s (%s)", id, r["id"], r["error"])
		}
	}
	// Two requests in flight with the same id are each answered.
	p.send(`{"jsonrpc":"2.0","id":1.5,"method":"ping"}` + "\r")
	if r := p.recv(); string(r["id"]) != "1.5" {
		t.Errorf("CRLF line: %v", r)
	}
}

// The default line limit holds a line longer than the SDK's 16 MiB.
func TestWireDefaultLineLimit(t *testing.T) {
	p := newWirePeer(t, 0, 0)
	p.send(`{"jsonrpc":"2.0","id":1,"method":"ping","pad":"` + strings.Repeat("y", 17<<20) + `"}`)
	if r := p.recv(); errorCode(r) != -32600 || !bytes.Contains(r["error"], []byte(fmt.Sprint(DefaultMaxLineBytes))) {
		t.Errorf("17 MiB line: %v", r)
	}
	p.send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	if r := p.recv(); string(r["id"]) != "2" {
		t.Errorf("after the long line: %v", r)
	}
}

func FuzzWireDecode(f *testing.F) {
	for _, c := range malformed(256, 8) {
		if len(c.line) < 4096 {
			f.Add([]byte(c.line))
		}
	}
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	f.Add([]byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1.5}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":3,"result":{}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		c := &wireConn{maxLine: 1 << 16, maxDepth: 8, ids: map[int64]json.RawMessage{}, byRaw: map[string]int64{}}
		msg, werr := c.decode(line)
		if (msg == nil) == (werr == nil) {
			t.Fatalf("decode(%q) = %v, %v", line, msg, werr)
		}
		if werr != nil {
			switch werr.code {
			case codeParseError, codeInvalidRequest, codeInvalidParams:
			default:
				t.Fatalf("code %d", werr.code)
			}
			if werr.id != nil && !validID(werr.id) {
				t.Fatalf("echoes an invalid id %q", werr.id)
			}
			return
		}
		if !json.Valid(line) {
			t.Fatalf("accepted invalid JSON %q", line)
		}
	})
}

// recvID reads replies until the one for id, skipping notifications.
func (p *wirePeer) recvID(id string) map[string]json.RawMessage {
	p.t.Helper()
	for i := 0; i < 100; i++ {
		if r := p.recv(); string(r["id"]) == id {
			return r
		}
	}
	p.t.Fatalf("no reply for id %s", id)
	return nil
}

// A cancellation names the request by the client's id, however odd: it
// reaches the command, and the session is free for the next one.
func TestWireCancelByClientID(t *testing.T) {
	p := newWirePeer(t, 0, 0)
	p.send(`{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"session_create","arguments":{}}}`)
	var created struct {
		StructuredContent SessionInfo `json:"structuredContent"`
	}
	if err := json.Unmarshal(p.recvID(`"c"`)["result"], &created); err != nil || created.StructuredContent.SessionID == "" {
		t.Fatalf("session_create: %v %+v", err, created)
	}
	sid := created.StructuredContent.SessionID
	marker := filepath.Join(t.TempDir(), "after-cancel")
	p.send(`{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"session_exec","arguments":{"session_id":"` + sid + `","command":"sleep 3600; touch ` + marker + `"}}}`)
	time.Sleep(200 * time.Millisecond) // let the command start (either way the outcome is the same)
	p.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1.5,"reason":"test"}}`)
	// The session serves one command at a time: this one runs only once
	// the cancelled one has stopped (recv gives up after 30 s, long before
	// the hour the sleep would take).
	p.send(`{"jsonrpc":"2.0","id":"next","method":"tools/call","params":{"name":"session_exec","arguments":{"session_id":"` + sid + `","command":"echo next; test -e ` + marker + ` && echo ran || echo stopped"}}}`)
	r := p.recvID(`"next"`)
	if !bytes.Contains(r["result"], []byte(`next\nstopped\n`)) {
		t.Errorf("the command after the cancelled one (the rest of the cancelled line must not run): %s %s", r["result"], r["error"])
	}
}
