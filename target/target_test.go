package target

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/undo"
)

func TestCheck(t *testing.T) {
	local := journal.Endpoint{Transport: "local"}
	bad := map[string]journal.SessionSpec{
		"unknown transport":       {Endpoint: journal.Endpoint{Transport: "telnet"}},
		"local with an address":   {Endpoint: journal.Endpoint{Transport: "local", Address: "x"}},
		"ssh without a host":      {Endpoint: journal.Endpoint{Transport: "ssh"}},
		"ssh with a bad port":     {Endpoint: journal.Endpoint{Transport: "ssh", Address: "h:99999"}},
		"ssh with a docker user":  {Endpoint: journal.Endpoint{Transport: "ssh", Address: "h", User: "u"}},
		"docker with nothing":     {Endpoint: journal.Endpoint{Transport: "docker"}},
		"docker with both":        {Endpoint: journal.Endpoint{Transport: "docker", Address: "c", Image: "i"}},
		"negative timeout":        {Endpoint: local, TimeoutMS: -1},
		"negative output":         {Endpoint: local, MaxOutputBytes: -1},
		"bad budget":              {Endpoint: local, Budget: safety.Budget{Mode: "middle"}},
		"bad checkpoint mode":     {Endpoint: local, Workspace: "/w", CheckpointMode: "sometimes"},
		"excludes, no workspace":  {Endpoint: local, Exclude: []string{"build"}},
		"repository, no worksp.":  {Endpoint: local, CheckpointDir: "/cp"},
		"auto mode, no workspace": {Endpoint: local, CheckpointMode: "auto"},
	}
	for name, sp := range bad {
		if err := Check(sp, nil); !errors.Is(err, ErrSpec) {
			t.Errorf("%s: Check = %v, want ErrSpec", name, err)
		}
	}
	good := []journal.SessionSpec{
		{}, {Endpoint: local}, {Endpoint: journal.Endpoint{Transport: "ssh", Address: "deploy@build:2222"}},
		{Endpoint: journal.Endpoint{Transport: "docker", Image: "alpine", User: "1000"}},
		{Endpoint: local, Workspace: "/w", Exclude: []string{"build"}, CheckpointMode: "manual"},
	}
	for _, sp := range good {
		if err := Check(sp, nil); err != nil {
			t.Errorf("Check(%+v) = %v", sp, err)
		}
	}
	if !Default().Remote("ssh") || !Default().Remote("docker") || Default().Remote("local") {
		t.Error("Remote: only ssh and docker targets are elsewhere")
	}
}

// TestOpenRecordsSpec: what the journal records of an opened session is
// the spec it was opened with (the workspace resolved), and reopening
// that record gives the same session settings.
func TestOpenRecordsSpec(t *testing.T) {
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	os.Mkdir(ws, 0o755)
	j, err := journal.Open(filepath.Join(dir, "j.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	pol, _ := safety.NewPolicy(nil, []string{"rm"}, []string{"curl.*sh"})
	sp := journal.SessionSpec{
		Version: journal.SpecVersion, Endpoint: journal.Endpoint{Transport: "local"}, Shell: "bash", Dir: dir,
		TimeoutMS: 1500, KillGraceMS: 200, MaxOutputBytes: 4096, Budget: safety.Budget{Mode: "tail", Lines: 5},
		Policy: pol, SecretNames: []string{"TOKEN"}, NoRespawn: true,
		Workspace: ws, CheckpointDir: filepath.Join(dir, "cp"), CheckpointMode: "auto", Exclude: []string{"build"},
	}
	o, err := Open(context.Background(), sp, &Env{Journal: j, Secrets: []safety.Secret{{Name: "TOKEN", Value: "tok-value-123456"}}}, "s1")
	if err != nil {
		t.Fatal(err)
	}
	r, err := o.Session.Exec(context.Background(), "echo tok-value-123456 > f; rm f", session.ExecOptions{})
	if err != nil || !r.Blocked || r.Entry == 0 {
		t.Errorf("policy: %+v %v", r, err)
	}
	o.Close()
	var rec journal.Session
	j.View(func(r *journal.Reader) error {
		ss, err := r.Sessions()
		if err == nil && len(ss) == 1 {
			rec = ss[0]
		}
		return err
	})
	got := rec.Spec
	if got.Policy == nil || got.Policy.Check("rm x").Allowed || got.Policy.Check("curl x | sh").Allowed {
		t.Errorf("recorded policy %+v", got.Policy)
	}
	got.Policy, sp.Policy = nil, nil
	if !reflect.DeepEqual(got, sp) {
		t.Errorf("recorded spec\n%+v\nwant\n%+v", got, sp)
	}
	if rec.ID != "s1" || rec.Transport != "local" {
		t.Errorf("recorded session %+v", rec)
	}
	// The recorded spec opens the same store, excludes included.
	st, err := OpenStore(context.Background(), rec.Spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if info := st.Info(); info.Workspace != ws || !reflect.DeepEqual(info.Exclude, []string{"build"}) {
		t.Errorf("store from the record: %+v", info)
	}
	// A throwaway container's workspace is gone; a remote one is not read
	// by the read-only opener.
	if _, err := OpenStore(context.Background(), journal.SessionSpec{Endpoint: journal.Endpoint{Transport: "docker", Image: "alpine"}, Workspace: "/w"}, nil); !errors.Is(err, ErrGone) {
		t.Errorf("throwaway container: %v", err)
	}
	if _, err := ReadOnlyStore(journal.SessionSpec{Endpoint: journal.Endpoint{Transport: "ssh", Address: "h"}, Workspace: "/w"}, nil); !errors.Is(err, ErrGone) {
		t.Errorf("remote workspace, read-only: %v", err)
	}
	if _, err := ReadOnlyStore(journal.SessionSpec{Endpoint: journal.Endpoint{Transport: "local"}, Workspace: ws, CheckpointDir: filepath.Join(dir, "none")}, nil); !errors.Is(err, undo.ErrNotFound) {
		t.Errorf("missing repository, read-only: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none")); err == nil {
		t.Error("the read-only opener created a repository")
	}
}
