package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Limits of the stdio wire. A line longer than MaxLineBytes, or nested
// deeper than MaxDepth, is answered with a JSON-RPC error and skipped.
const (
	DefaultMaxLineBytes = 8 << 20
	DefaultMaxDepth     = 256
)

// JSON-RPC 2.0 error codes the wire answers with itself.
const (
	codeParseError     = -32700
	codeInvalidRequest = -32600
	codeInvalidParams  = -32602
)

// Wire is an MCP transport over newline-delimited JSON-RPC (stdio, or
// execkit record's socket) that stays up whatever the peer sends: every
// line that is not a valid JSON-RPC 2.0 message is answered with its error
// (-32700 parse error, -32600 invalid request, -32602 invalid params) and
// the next line is read as if nothing happened. Request ids are echoed
// byte for byte, whatever JSON number or string they are: the SDK sees
// ids of its own, mapped back on the way out.
type Wire struct {
	Reader io.Reader
	Writer io.Writer
	// MaxLineBytes bounds one line (one message); zero means
	// DefaultMaxLineBytes.
	MaxLineBytes int
	// MaxDepth bounds how deeply arrays and objects nest in one message;
	// zero means DefaultMaxDepth.
	MaxDepth int
}

// Connect implements mcp.Transport.
func (w *Wire) Connect(context.Context) (mcp.Connection, error) {
	c := &wireConn{
		w:      w.Writer,
		in:     make(chan wireIn),
		closed: make(chan struct{}),
		ids:    map[int64]json.RawMessage{},
		byRaw:  map[string]int64{},
	}
	c.maxLine, c.maxDepth = w.MaxLineBytes, w.MaxDepth
	if c.maxLine <= 0 {
		c.maxLine = DefaultMaxLineBytes
	}
	if c.maxDepth <= 0 {
		c.maxDepth = DefaultMaxDepth
	}
	c.closer, _ = w.Reader.(io.Closer) // unblocks the read loop; stdout stays open
	go c.readLoop(w.Reader)
	return c, nil
}

type wireIn struct {
	msg jsonrpc.Message
	err error
}

type wireConn struct {
	w                 io.Writer
	wmu               sync.Mutex
	maxLine, maxDepth int
	in                chan wireIn
	closed            chan struct{}
	closeOnce         sync.Once
	closer            io.Closer

	idmu  sync.Mutex
	next  int64
	ids   map[int64]json.RawMessage // the SDK's id -> the peer's id, as sent
	byRaw map[string]int64          // the peer's id (compact) -> the SDK's
}

// wireError is a message the wire refuses, with the answer it gets.
type wireError struct {
	code int
	msg  string
	id   json.RawMessage // nil: null
}

func (e *wireError) Error() string { return e.msg }

func (c *wireConn) SessionID() string { return "" }

func (c *wireConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closed:
		return nil, io.EOF
	case in := <-c.in:
		return in.msg, in.err
	}
}

func (c *wireConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		if c.closer != nil {
			c.closer.Close()
		}
	})
	return nil
}

// readLoop reads lines until the reader ends, handing valid messages to
// Read and answering the others itself.
func (c *wireConn) readLoop(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, tooLong, err := readLine(br, c.maxLine)
		if tooLong {
			c.answer(&wireError{code: codeInvalidRequest, msg: fmt.Sprintf("message longer than %d bytes (the line limit)", c.maxLine)})
		} else if len(bytes.TrimSpace(line)) > 0 {
			msg, werr := c.decode(line)
			if werr != nil {
				c.answer(werr)
			} else if !c.deliver(wireIn{msg: msg}) {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.EOF
			}
			c.deliver(wireIn{err: err})
			return
		}
	}
}

func (c *wireConn) deliver(in wireIn) bool {
	select {
	case c.in <- in:
		return true
	case <-c.closed:
		return false
	}
}

// readLine reads one line without its end. A line longer than max is read
// to its end and dropped (tooLong), never buffered whole.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > max+2 { // +2: the line's end
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if !tooLong && len(line) > max {
			tooLong, line = true, nil
		}
		return line, tooLong, err
	}
}

// depthExceeds reports whether JSON text b nests arrays and objects deeper
// than max, without parsing it (strings are skipped).
func depthExceeds(b []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, ch := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
		case ch == '"':
			inString = true
		case ch == '[' || ch == '{':
			if depth++; depth > max {
				return true
			}
		case ch == ']' || ch == '}':
			depth--
		}
	}
	return false
}

// validID reports whether raw is a JSON-RPC id: a string or a number.
func validID(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	switch raw[0] {
	case '"':
		var s string
		return json.Unmarshal(raw, &s) == nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		return json.Unmarshal(raw, &n) == nil
	}
	return false
}

// decode checks one line and turns it into the message the SDK reads.
func (c *wireConn) decode(line []byte) (jsonrpc.Message, *wireError) {
	if depthExceeds(line, c.maxDepth) {
		return nil, &wireError{code: codeInvalidRequest, msg: fmt.Sprintf("message nested deeper than %d levels (the depth limit)", c.maxDepth)}
	}
	if !json.Valid(line) {
		return nil, &wireError{code: codeParseError, msg: "parse error: not one JSON value on the line"}
	}
	switch bytes.TrimSpace(line)[0] {
	case '{':
	case '[':
		return nil, &wireError{code: codeInvalidRequest, msg: "invalid request: batches are not supported (MCP sends one message per line)"}
	default:
		return nil, &wireError{code: codeInvalidRequest, msg: "invalid request: a message is a JSON object"}
	}
	var f struct {
		JSONRPC json.RawMessage `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  json.RawMessage `json:"method"`
		Params  json.RawMessage `json:"params"`
		Result  json.RawMessage `json:"result"`
		Error   json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(line, &f); err != nil {
		return nil, &wireError{code: codeParseError, msg: "parse error: " + err.Error()}
	}
	var id json.RawMessage
	if validID(f.ID) {
		id = f.ID
	} else if f.ID != nil && string(f.ID) != "null" {
		return nil, &wireError{code: codeInvalidRequest, msg: "invalid request: an id is a string or a number"}
	}
	if string(f.JSONRPC) != `"2.0"` {
		return nil, &wireError{code: codeInvalidRequest, msg: `invalid request: "jsonrpc" must be "2.0"`, id: id}
	}
	if f.Method == nil {
		// A response to a request of the server's.
		if id == nil || (f.Result == nil) == (f.Error == nil) {
			return nil, &wireError{code: codeInvalidRequest, msg: "invalid request: no method, and not a response (an id and one of result or error)", id: id}
		}
		msg, err := jsonrpc.DecodeMessage(line)
		if err != nil {
			return nil, &wireError{code: codeInvalidRequest, msg: "invalid response: " + err.Error(), id: id}
		}
		return msg, nil
	}
	var method string
	if err := json.Unmarshal(f.Method, &method); err != nil || method == "" {
		return nil, &wireError{code: codeInvalidRequest, msg: "invalid request: the method is a non-empty string", id: id}
	}
	params := f.Params
	if string(params) == "null" {
		params = nil
	}
	if params != nil && params[0] != '{' {
		return nil, &wireError{code: codeInvalidParams, msg: "invalid params: params is an object", id: id}
	}
	if method == "tools/call" {
		var call struct {
			Name      json.RawMessage `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		}
		json.Unmarshal(params, &call)
		var name string
		if json.Unmarshal(call.Name, &name) != nil || name == "" {
			return nil, &wireError{code: codeInvalidParams, msg: "invalid params: tools/call names its tool in a string", id: id}
		}
		if a := call.Arguments; a != nil && string(a) != "null" && a[0] != '{' {
			return nil, &wireError{code: codeInvalidParams, msg: "invalid params: tool arguments are an object", id: id}
		}
	}
	if f.ID != nil && id == nil {
		return nil, &wireError{code: codeInvalidRequest, msg: "invalid request: the id of a request is a string or a number, not null"}
	}
	req := &jsonrpc.Request{Method: method, Params: params}
	if id != nil {
		req.ID = c.mapID(id)
	} else if method == "notifications/cancelled" {
		req.Params = c.mapCancelled(params)
	}
	return req, nil
}

// mapID gives a request of the peer's an id of the SDK's own.
func (c *wireConn) mapID(raw json.RawMessage) jsonrpc.ID {
	c.idmu.Lock()
	defer c.idmu.Unlock()
	c.next++
	c.ids[c.next] = append(json.RawMessage(nil), raw...)
	c.byRaw[compactKey(raw)] = c.next
	id, _ := jsonrpc.MakeID(float64(c.next))
	return id
}

// mapCancelled rewrites the request id a cancellation names to the SDK's.
func (c *wireConn) mapCancelled(params json.RawMessage) json.RawMessage {
	var p map[string]json.RawMessage
	if json.Unmarshal(params, &p) != nil || p["requestId"] == nil {
		return params
	}
	c.idmu.Lock()
	n, ok := c.byRaw[compactKey(p["requestId"])]
	c.idmu.Unlock()
	if !ok {
		return params
	}
	p["requestId"] = json.RawMessage(fmt.Sprint(n))
	out, err := json.Marshal(p)
	if err != nil {
		return params
	}
	return out
}

func compactKey(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// peerID takes back the peer's id for a response of the SDK's.
func (c *wireConn) peerID(id jsonrpc.ID) (json.RawMessage, bool) {
	n, ok := id.Raw().(int64)
	if !ok {
		return nil, false
	}
	c.idmu.Lock()
	defer c.idmu.Unlock()
	raw, ok := c.ids[n]
	if ok {
		delete(c.ids, n)
		if c.byRaw[compactKey(raw)] == n {
			delete(c.byRaw, compactKey(raw))
		}
	}
	return raw, ok
}

func (c *wireConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	data, err := jsonrpc.EncodeMessage(msg)
	if err != nil {
		return err
	}
	if resp, ok := msg.(*jsonrpc.Response); ok {
		if raw, ok := c.peerID(resp.ID); ok {
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(data, &fields); err != nil {
				return err
			}
			fields["id"] = raw
			if data, err = json.Marshal(fields); err != nil {
				return err
			}
		}
	}
	return c.writeLine(data)
}

// answer writes the error response for a refused line.
func (c *wireConn) answer(e *wireError) {
	id := e.id
	if id == nil {
		id = json.RawMessage("null")
	}
	data, err := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{JSONRPC: "2.0", ID: id, Error: struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{e.code, e.msg}})
	if err == nil {
		c.writeLine(data)
	}
}

func (c *wireConn) writeLine(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.closed:
		return mcp.ErrConnectionClosed
	default:
	}
	_, err := c.w.Write(append(data, '\n'))
	return err
}
