package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/viewer"
)

func viewCommand() *cli.Command {
	return &cli.Command{
		Name:      "view",
		Usage:     "serve a journal as a read-only web page on loopback",
		ArgsUsage: "JOURNAL",
		Description: "Prints the page's address, which carries a random token; requests without it get 404.\n" +
			"A journal another process is writing is shown live: new entries appear as they are committed.\n" +
			"The address stays the same from one run of view to the next for the same journal (the token\n" +
			"and port are kept in a 0600 file under $XDG_STATE_HOME/execkit/view/), so an open tab reconnects.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Usage: "loopback address to listen on (default: the journal's last one, else 127.0.0.1 on a free port)"},
			&cli.BoolFlag{Name: "open", Usage: "open the page in the default browser"},
		},
		Action: func(c *cli.Context) error {
			path, _, err := journalArg(c, 0)
			if err != nil {
				return err
			}
			// Read it once now, so that a journal that cannot be read (in
			// use, wrong version) fails here and not in the browser.
			if err := viewer.File(path).View(func(*journal.Reader) error { return nil }); err != nil {
				return err
			}
			st, saveState := viewState(path)
			addr := c.String("addr")
			if addr == "" {
				addr = "127.0.0.1:0"
				if st.Addr != "" {
					addr = st.Addr
				}
			}
			ln, err := listenLoopback(addr)
			if err != nil && c.String("addr") == "" && addr != "127.0.0.1:0" {
				ln, err = listenLoopback("127.0.0.1:0") // the last port is taken now
			}
			if err != nil {
				return err
			}
			st.Addr = ln.Addr().String()
			saveState(st)
			v := viewer.New(viewer.File(path), viewer.Options{Title: path, Live: journal.Live(path), Token: st.Token})
			ctx, stop := signalContext()
			defer stop()
			return serveViewer(ctx, c, v, ln, c.Bool("open"))
		},
	}
}

// viewStateFile is what keeps a journal's viewer address from one run of
// view to the next.
type viewStateFile struct {
	Token string `json:"token"`
	Addr  string `json:"addr"`
}

// viewState reads the saved token and address of the journal at path (a
// new token when there is none) and returns the function that saves them.
// Without a state directory nothing is kept.
func viewState(path string) (viewStateFile, func(viewStateFile)) {
	b := make([]byte, 16)
	rand.Read(b)
	st := viewStateFile{Token: hex.EncodeToString(b)}
	abs, err := filepath.Abs(path)
	if err != nil {
		return st, func(viewStateFile) {}
	}
	state := os.Getenv("XDG_STATE_HOME")
	if state == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return st, func(viewStateFile) {}
		}
		state = filepath.Join(home, ".local", "state")
	}
	sum := sha256.Sum256([]byte(abs))
	file := filepath.Join(state, "execkit", "view", hex.EncodeToString(sum[:10])+".json")
	if data, err := os.ReadFile(file); err == nil {
		var saved viewStateFile
		if json.Unmarshal(data, &saved) == nil && len(saved.Token) >= 32 {
			st = saved
		}
	}
	return st, func(s viewStateFile) {
		if os.MkdirAll(filepath.Dir(file), 0o700) != nil {
			return
		}
		data, _ := json.Marshal(s)
		tmp := file + ".tmp"
		if os.WriteFile(tmp, data, 0o600) == nil {
			os.Rename(tmp, file)
		}
	}
}

// serveViewer serves v on ln until ctx ends.
func serveViewer(ctx context.Context, c *cli.Context, v *viewer.Viewer, ln net.Listener, open bool) error {
	url := fmt.Sprintf("http://%s/%s/", ln.Addr(), v.Token())
	fmt.Fprintf(c.App.ErrWriter, "execkit: viewer at %s\n", url)
	if open {
		opener := "xdg-open"
		if runtime.GOOS == "darwin" {
			opener = "open"
		}
		if err := exec.Command(opener, url).Start(); err != nil {
			fmt.Fprintf(c.App.ErrWriter, "execkit: could not open a browser (%v); open the address above\n", err)
		}
	}
	hs := &http.Server{Handler: v.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// checkLoopback refuses an address that is not host:port on loopback.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("address %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usagef("address %q: only loopback addresses are served", addr)
	}
	return nil
}

// listenLoopback listens on addr, which must be a loopback address.
func listenLoopback(addr string) (net.Listener, error) {
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return ln, nil
}

// viewFlag serves the live viewer of the journal a run is writing.
func viewFlag() cli.Flag {
	return &cli.StringFlag{Name: "view", Usage: "serve the live journal viewer on this loopback address (127.0.0.1:0 picks a port)"}
}

// startLiveView serves j's viewer in the background when --view asks;
// the returned function stops it.
func startLiveView(c *cli.Context, j *journal.Journal, open bool) (string, func(), error) {
	addr := c.String("view")
	if addr == "" {
		return "", func() {}, nil
	}
	v := viewer.New(j, viewer.Options{Title: j.Path(), Live: true})
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := listenLoopback(addr)
	if err != nil {
		cancel()
		return "", nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		serveViewer(ctx, c, v, ln, open)
	}()
	return fmt.Sprintf("http://%s/%s/", ln.Addr(), v.Token()), func() { cancel(); <-done }, nil
}
