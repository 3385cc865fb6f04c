package mcpserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/execkit/execkit/safety"
)

// The tools take this project's argument names and the original
// execkit-mcp's (docs/mcp.md maps one to the other). Where the two shapes
// differ in type (grep as a pattern or as {pattern, context}), the
// argument's type decodes both and its schema says so.

// budgetIn is an output budget in either shape:
//
//	{"mode": "tail", "lines": 200, "grep": "error", "context": 2, "max_chars": 4000}
//	{"keep": {"mode": "tail", "n": 200}, "grep": {"pattern": "error", "context": 2}, "max_chars": 4000}
//
// It is safety.Budget with grep taking either shape (this field, shallower,
// takes the name from the Budget's own) and the original's keep.
type budgetIn struct {
	safety.Budget
	Grep grepArg `json:"grep,omitzero" jsonschema:"keep lines matching a regular expression, first: the pattern, or {pattern, context}"`
	Keep keepArg `json:"keep,omitzero" jsonschema:"the original's form of mode: {mode: all|head|tail|head_tail, n, head, tail}"`
}

// keepArg is the original's keep: {mode, n, head, tail}.
type keepArg struct {
	Mode string `json:"mode" jsonschema:"all, head, tail or head_tail"`
	N    int    `json:"n,omitempty" jsonschema:"lines kept by head or tail"`
	Head int    `json:"head,omitempty" jsonschema:"head_tail: lines kept at the start"`
	Tail int    `json:"tail,omitempty" jsonschema:"head_tail: lines kept at the end"`
}

// grepArg is a pattern, given as a string or as {pattern, context}.
type grepArg struct {
	Pattern string `json:"pattern"`
	Context int    `json:"context,omitempty"`
}

func (g *grepArg) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &g.Pattern)
	}
	if string(b) == "null" {
		return nil
	}
	type plain grepArg
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("grep: a pattern or {pattern, context}: %w", err)
	}
	*g = grepArg(p)
	return nil
}

// optBool is a boolean that may be left out (the zero value).
type optBool int8

const (
	unset optBool = iota
	yes
	no
)

func (o *optBool) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseBool(string(bytes.TrimSpace(b)))
	if err != nil {
		return fmt.Errorf("want true or false, got %s", b)
	}
	if *o = no; v {
		*o = yes
	}
	return nil
}

// argSchemas are the schemas of the argument types whose Go type says too
// little: every schema type is a single type, for clients whose schema
// dialect knows no unions of types.
var argSchemas = map[reflect.Type]*jsonschema.Schema{
	reflect.TypeFor[grepArg](): {AnyOf: []*jsonschema.Schema{
		{Type: "string", Description: "a regular expression"},
		{Type: "object", Properties: map[string]*jsonschema.Schema{
			"pattern": {Type: "string", Description: "a regular expression"},
			"context": {Type: "integer", Minimum: jsonschema.Ptr(0.0), Description: "lines kept around each match"},
		}, Required: []string{"pattern"}, AdditionalProperties: &jsonschema.Schema{Not: &jsonschema.Schema{}}},
	}},
	reflect.TypeFor[optBool](): {Type: "boolean"},
	reflect.TypeFor[keepArg](): {Type: "object", Properties: map[string]*jsonschema.Schema{
		"mode": {Type: "string", Enum: []any{"all", "head", "tail", "head_tail"}},
		"n":    {Type: "integer", Minimum: jsonschema.Ptr(0.0), Description: "lines kept by head or tail"},
		"head": {Type: "integer", Minimum: jsonschema.Ptr(0.0), Description: "head_tail: lines kept at the start"},
		"tail": {Type: "integer", Minimum: jsonschema.Ptr(0.0), Description: "head_tail: lines kept at the end"},
	}, Required: []string{"mode"}, AdditionalProperties: &jsonschema.Schema{Not: &jsonschema.Schema{}}},
}

// schemaOf is the schema of a tool's arguments or result: every type a
// single type (a list or an object that may be left out is not also
// "null": the tools never send null for them), and the string properties
// named in enums given their closed sets of values.
func schemaOf[T any](enums map[string][]any) *jsonschema.Schema {
	s, err := jsonschema.For[T](&jsonschema.ForOptions{TypeSchemas: argSchemas})
	if err != nil {
		panic(err)
	}
	singleTypes(s, "", enums)
	return s
}

// The closed sets of values of session_create's and session_exec's
// arguments, by name.
var (
	budgetEnums = map[string][]any{"mode": {"", "all", "head", "tail", "head+tail", "grep"}}
	createEnums = map[string][]any{
		"transport":  {"local", "ssh", "docker"},
		"checkpoint": {"auto", "manual", "off"},
		"mode":       budgetEnums["mode"],
	}
)

func singleTypes(s *jsonschema.Schema, name string, enums map[string][]any) {
	if s == nil {
		return
	}
	if len(s.Types) == 2 && (s.Types[0] == "null" || s.Types[1] == "null") {
		t := s.Types[0]
		if t == "null" {
			t = s.Types[1]
		}
		s.Type, s.Types = t, nil
	}
	if e, ok := enums[name]; ok && s.Type == "string" && s.Enum == nil {
		s.Enum = e
	}
	for k, p := range s.Properties {
		singleTypes(p, k, enums)
	}
	singleTypes(s.Items, "", enums)
	for _, l := range [][]*jsonschema.Schema{s.AnyOf, s.OneOf, s.AllOf} {
		for _, p := range l {
			singleTypes(p, "", enums)
		}
	}
}

// isZero reports whether no budget was given.
func (b budgetIn) isZero() bool { return b == budgetIn{} }

// budget is the safety.Budget b asks for, checked.
func (b budgetIn) budget() (safety.Budget, error) {
	out := b.Budget
	out.Grep = b.Grep.Pattern
	if b.Grep.Context != 0 {
		if b.Context != 0 && b.Context != b.Grep.Context {
			return out, fmt.Errorf("budget: two contexts, %d and %d", b.Context, b.Grep.Context)
		}
		out.Context = b.Grep.Context
	}
	if out.Mode == "grep" {
		out.Mode = ""
		if out.Grep == "" {
			return out, fmt.Errorf("budget: mode grep needs a grep pattern")
		}
	}
	if b.Keep != (keepArg{}) {
		if b.Mode != "" && b.Mode != "grep" || b.Lines != 0 {
			return out, fmt.Errorf("budget: give keep or mode/lines, not both")
		}
		switch b.Keep.Mode {
		case "all", "":
			out.Mode = ""
		case "head", "tail":
			out.Mode, out.Lines = b.Keep.Mode, b.Keep.N
		case "head_tail":
			out.Mode, out.Lines, out.Head, out.Tail = "head+tail", b.Keep.N, b.Keep.Head, b.Keep.Tail
		default:
			return out, fmt.Errorf("budget: unknown keep mode %q (all, head, tail, head_tail)", b.Keep.Mode)
		}
		if b.Keep.N < 0 || b.Keep.Head < 0 || b.Keep.Tail < 0 {
			return out, fmt.Errorf("budget: negative size")
		}
	}
	return out, out.Check()
}

// markerKind is the kind in a redaction marker, [REDACTED:kind].
var markerKind = regexp.MustCompile(`\[REDACTED:[a-z0-9-]+\]`)

// originalText is output as the original execkit gave it: without the
// newlines around it, and with a plain [REDACTED] for every redaction (the
// structured result and the journal say which kind of secret each was).
func originalText(s string) string {
	return markerKind.ReplaceAllLiteralString(strings.Trim(s, "\n"), "[REDACTED]")
}

// sessionDesc is the part of a session id after its number that says what
// the session is: local, ssh_USER@HOST[:PORT] or docker_CONTAINER.
func sessionDesc(kind, address string) string {
	if kind == "local" || address == "" {
		return kind
	}
	var b strings.Builder
	for _, r := range address {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("@.:-_", r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	return kind + "_" + b.String()
}

// subdir is a workspace narrowed to the one sub-directory of paths.
func subdir(ws string, paths []string) (string, error) {
	switch {
	case len(paths) == 0:
		return ws, nil
	case ws == "":
		return "", fmt.Errorf("paths needs a workspace")
	case len(paths) > 1:
		return "", fmt.Errorf("paths: this server checkpoints one directory; give one path (or name it as the workspace)")
	}
	p := path.Clean(paths[0])
	if path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("paths: %q is not a directory under the workspace", paths[0])
	}
	return path.Join(ws, p), nil
}
