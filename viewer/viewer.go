// Package viewer serves a journal as a web page on loopback: the sessions
// in a sidebar, each session's transcript rendered like a shell, search,
// status filters, a jump to the next error, links to entries, exports, and
// (for a journal being written) live updates.
//
// Every request must carry the random token in its path; anything else is
// a 404. Output is rendered as text, never as markup (html/template, DOM
// textContent), and a Content-Security-Policy forbids inline scripts as a
// second line of defence. The page is Go templates and embedded assets: no
// build step, no CDN.
package viewer

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/target"
	"github.com/execkit/execkit/undo"
)

//go:embed assets
var assets embed.FS

var page = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"ms": func(f float64) string {
		switch {
		case f < 1:
			return fmt.Sprintf("%.0fµs", f*1000)
		case f < 1000:
			return fmt.Sprintf("%.1fms", f)
		}
		return fmt.Sprintf("%.2fs", f/1000)
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
}).ParseFS(assets, "assets/page.html"))

// Source is where entries come from: a journal file read-only, or the
// journal a live run is writing.
type Source interface {
	View(fn func(*journal.Reader) error) error
}

// File reads a journal file: as it is, or, while another process writes
// it, a snapshot that process serves (journal.Read).
type File string

// View implements Source.
func (f File) View(fn func(*journal.Reader) error) error { return journal.Read(string(f), fn) }

// Options configure a viewer.
type Options struct {
	// Title names the page (default the journal's path).
	Title string
	// Live makes the page poll for new entries.
	Live bool
	// Token is the secret path segment; empty means a random one.
	Token string
}

// Viewer serves one journal.
type Viewer struct {
	src  Source
	opts Options

	mu      sync.Mutex
	changes map[string][]undo.Change // checkpoint pair → files, cached
}

// New returns a viewer of src.
func New(src Source, opts Options) *Viewer {
	if opts.Token == "" {
		b := make([]byte, 16)
		rand.Read(b)
		opts.Token = hex.EncodeToString(b)
	}
	return &Viewer{src: src, opts: opts, changes: map[string][]undo.Change{}}
}

// Token is the secret path segment: the page is at /TOKEN/.
func (v *Viewer) Token() string { return v.opts.Token }

// view is what the page template renders.
type view struct {
	Title    string
	Run      journal.Run
	Sealed   bool
	Live     bool
	Sessions []sessionView
	Entries  []entryView
	Counts   map[string]int
	Last     uint64
}

type sessionView struct {
	journal.Session
	Commands, Failed int
	Workspace        string
}

type entryView struct {
	journal.Entry
	Failed  bool
	Changes []undo.Change // files changed by the command, when known
	More    int           // changes not listed
}

func failed(e journal.Entry) bool {
	switch e.Status {
	case journal.StatusOK, journal.StatusRunning:
		return false
	}
	return true
}

// load reads the journal into a view.
func (v *Viewer) load(after uint64) (view, error) {
	out := view{Title: v.opts.Title, Live: v.opts.Live, Counts: map[string]int{}}
	err := v.src.View(func(r *journal.Reader) error {
		var err error
		if out.Run, err = r.Run(); err != nil {
			return err
		}
		_, out.Sealed = r.Seal()
		sessions, err := r.Sessions()
		if err != nil {
			return err
		}
		// A live page asks for what is new; the entries before it are not
		// read again.
		es, err := r.Entries(journal.Filter{After: after})
		if err != nil {
			return err
		}
		idx := map[string]int{}
		specs := map[string]journal.SessionSpec{}
		for _, s := range sessions {
			specs[s.ID] = s.Spec
			idx[s.ID] = len(out.Sessions)
			out.Sessions = append(out.Sessions, sessionView{Session: s, Workspace: s.Spec.Workspace})
		}
		// The files an entry changed: from its checkpoint to the next one
		// of its session (local workspaces only).
		next := map[int]string{}
		lastCP := map[string]int{}
		for i, e := range es {
			if e.Checkpoint != "" {
				if j, ok := lastCP[e.Session]; ok {
					next[j] = e.Checkpoint
				}
				lastCP[e.Session] = i
			}
		}
		// Last is where a live page asks from next: before the first entry
		// still running (it will change), else after the newest.
		running := false
		for i, e := range es {
			if e.Status == journal.StatusRunning && !running {
				running = true
				out.Last = e.Seq - 1
			}
			if !running {
				out.Last = e.Seq
			}
			out.Counts[string(e.Status)]++
			if k, ok := idx[e.Session]; ok {
				out.Sessions[k].Commands++
				if failed(e) {
					out.Sessions[k].Failed++
				}
			}
			ev := entryView{Entry: visibleEntry(e), Failed: failed(e)}
			if to, ok := next[i]; ok {
				ev.Changes = v.filesChanged(specs[e.Session], e.Checkpoint, to)
				if len(ev.Changes) > 20 {
					ev.More, ev.Changes = len(ev.Changes)-20, ev.Changes[:20]
				}
			}
			out.Entries = append(out.Entries, ev)
		}
		return nil
	})
	if out.Title == "" {
		out.Title = "execkit run " + out.Run.ID
	}
	return out, err
}

// filesChanged diffs two checkpoints of a workspace on this machine,
// cached. The store is opened read-only: the viewer creates and changes
// nothing, and does not reach other machines.
func (v *Viewer) filesChanged(sp journal.SessionSpec, from, to string) []undo.Change {
	if sp.Workspace == "" {
		return nil
	}
	key := sp.Workspace + " " + sp.CheckpointDir + " " + from + " " + to
	v.mu.Lock()
	ch, ok := v.changes[key]
	v.mu.Unlock()
	if ok {
		return ch
	}
	st, err := target.ReadOnlyStore(sp, nil)
	if err == nil {
		ch, _ = st.Diff(context.Background(), from, to)
	}
	v.mu.Lock()
	v.changes[key] = ch
	v.mu.Unlock()
	return ch
}

// Handler serves the page, its assets, the entries as JSON and exports,
// all under /TOKEN/.
func (v *Viewer) Handler() http.Handler {
	prefix := "/" + v.opts.Token + "/"
	mux := http.NewServeMux()
	mux.HandleFunc(prefix, v.servePage)
	mux.HandleFunc(prefix+"api/entries", v.serveEntries)
	mux.HandleFunc(prefix+"export/", v.serveExport)
	mux.Handle(prefix+"assets/", http.StripPrefix(prefix, http.FileServer(http.FS(assets))))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		// The original execkit-mcp's addresses, the token in the query:
		// /?t=TOKEN (sent on to the page) and /events?t=TOKEN.
		if t := r.URL.Query().Get("t"); t != "" && subtle.ConstantTimeCompare([]byte(t), []byte(v.opts.Token)) == 1 {
			switch r.URL.Path {
			case "/":
				http.Redirect(w, r, prefix, http.StatusFound)
				return
			case "/events":
				v.serveEvents(w, r)
				return
			}
		}
		if !strings.HasPrefix(r.URL.Path, prefix) {
			http.NotFound(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// eventsGap is how often the event stream looks for new entries.
const eventsGap = 250 * time.Millisecond

// serveEvents streams the entries as server-sent events, as they are
// journaled: each one an "entry" event whose data is the entry as JSON
// (the form api/entries gives), the ones already there first; a
// "sealed" event ends the stream when the run has ended.
func (v *Viewer) serveEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	tick := time.NewTicker(eventsGap)
	defer tick.Stop()
	var after uint64
	for {
		vw, err := v.load(after)
		if err != nil {
			fmt.Fprintf(w, "event: error\ndata: %s\n\n", strings.ReplaceAll(err.Error(), "\n", " "))
			flusher.Flush()
			return
		}
		for _, e := range vw.Entries {
			if e.Status == journal.StatusRunning {
				break // sent when it completes
			}
			b, err := json.Marshal(e)
			if err != nil {
				continue
			}
			fmt.Fprintf(w, "id: %d\nevent: entry\ndata: %s\n\n", e.Seq, b)
			after = e.Seq
		}
		if vw.Sealed && (len(vw.Entries) == 0 || vw.Entries[len(vw.Entries)-1].Seq == after) {
			fmt.Fprint(w, "event: sealed\ndata: {}\n\n")
			flusher.Flush()
			return
		}
		flusher.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

func (v *Viewer) servePage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/"+v.opts.Token+"/" {
		http.NotFound(w, r)
		return
	}
	vw, err := v.load(0)
	if err != nil {
		http.Error(w, "execkit view: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := page.Execute(w, vw); err != nil {
		fmt.Fprintf(w, "<!-- %s -->", template.HTMLEscapeString(err.Error()))
	}
}

// visibleEntry shows, in the recorded text of e, escape sequences and
// bidirectional controls instead of keeping them (a --raw session stores
// them as they came): on the page and in the live updates alike.
func visibleEntry(e journal.Entry) journal.Entry {
	e.Command, e.CwdBefore = safety.Visible(e.Command), safety.Visible(e.CwdBefore)
	if c := e.Completion; c != nil {
		v := *c
		v.Stdout, v.Stderr, v.Cwd = safety.Visible(v.Stdout), safety.Visible(v.Stderr), safety.Visible(v.Cwd)
		e.Completion = &v
	}
	return e
}

// serveEntries returns the entries after ?after=SEQ, for live pages.
func (v *Viewer) serveEntries(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	vw, err := v.load(after)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if vw.Entries == nil {
		vw.Entries = []entryView{}
	}
	json.NewEncoder(w).Encode(struct {
		Entries []entryView `json:"entries"`
		Sealed  bool        `json:"sealed"`
		Time    time.Time   `json:"time"`
	}{vw.Entries, vw.Sealed, time.Now()})
}

// serveExport downloads the journal as Markdown, JSON lines or asciicast.
func (v *Viewer) serveExport(w http.ResponseWriter, r *http.Request) {
	format := strings.TrimPrefix(r.URL.Path, "/"+v.opts.Token+"/export/")
	ext := map[string]string{"md": "text/markdown; charset=utf-8", "jsonl": "application/x-ndjson", "cast": "application/x-asciicast"}[format]
	if ext == "" {
		http.NotFound(w, r)
		return
	}
	err := v.src.View(func(rd *journal.Reader) error {
		run, err := rd.Run()
		if err != nil {
			return err
		}
		sessions, err := rd.Sessions()
		if err != nil {
			return err
		}
		es, err := rd.Entries(journal.Filter{Session: r.URL.Query().Get("session")})
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", ext)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="execkit-%s.%s"`, run.ID, format))
		switch format {
		case "md":
			return journal.ExportMarkdown(w, run, sessions, es)
		case "jsonl":
			return journal.ExportJSONL(w, es)
		default:
			return journal.ExportAsciicast(w, run, es)
		}
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
