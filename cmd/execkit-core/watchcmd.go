package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/urfave/cli/v2"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
)

// watchCommand is a terminal view of a journal for a person: the entries
// as they happen and the selected one's output, the running command's as
// it streams. Built on Bubble Tea (github.com/charmbracelet/bubbletea).
func watchCommand() *cli.Command {
	return &cli.Command{
		Name:      "watch",
		Usage:     "watch a journal in the terminal as it is written: entries, status, output as it streams",
		ArgsUsage: "JOURNAL",
		Description: "Keys: ↑/↓ or k/j select an entry, enter opens it full screen (esc goes back), pgup/pgdn\n" +
			"scroll its output, g/G first/last, f follows the newest entry, q quits. Recorded text is\n" +
			"shown, never interpreted: escape sequences appear as \\x1b..., as in `execkit show`.",
		Action: func(c *cli.Context) error {
			path, _, err := journalArg(c, 0)
			if err != nil {
				return err
			}
			// Found out now: a file that is not a journal fails here.
			if err := journal.Read(path, func(*journal.Reader) error { return nil }); err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			m := newWatchModel(path)
			p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithInput(os.Stdin), tea.WithOutput(c.App.Writer))
			go func() {
				err := journal.WatchFile(ctx, path,
					func(e journal.Entry) error { p.Send(entryMsg(e)); return nil },
					func(o journal.Output) error { p.Send(outputMsg(o)); return nil })
				p.Send(endMsg{err})
			}()
			_, err = p.Run()
			return err
		},
	}
}

type (
	entryMsg  journal.Entry
	outputMsg journal.Output
	endMsg    struct{ err error }
)

// watchModel is the state of the view.
type watchModel struct {
	path    string
	entries []journal.Entry
	live    map[uint64]*strings.Builder // running entries' output
	sel     int
	follow  bool
	detail  bool
	scroll  int
	width   int
	height  int
	ended   bool
	err     error
}

const watchLiveMax = 256 << 10

func newWatchModel(path string) *watchModel {
	return &watchModel{path: path, live: map[uint64]*strings.Builder{}, follow: true, width: 80, height: 24}
}

func (m *watchModel) Init() tea.Cmd { return nil }

func (m *watchModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case entryMsg:
		e := journal.Entry(msg)
		i := sort.Search(len(m.entries), func(i int) bool { return m.entries[i].Seq >= e.Seq })
		if i < len(m.entries) && m.entries[i].Seq == e.Seq {
			m.entries[i] = e
		} else {
			m.entries = append(m.entries, journal.Entry{})
			copy(m.entries[i+1:], m.entries[i:])
			m.entries[i] = e
		}
		if e.Status != journal.StatusRunning {
			delete(m.live, e.Seq)
		}
		if m.follow {
			m.sel, m.scroll = len(m.entries)-1, 0
		}
	case outputMsg:
		b := m.live[msg.Entry]
		if b == nil {
			b = &strings.Builder{}
			m.live[msg.Entry] = b
		}
		if b.Len() < watchLiveMax {
			if msg.Stream == "stderr" {
				b.WriteString("\x00") // marks stderr text, for colour
			}
			b.WriteString(msg.Data)
			if msg.Stream == "stderr" {
				b.WriteString("\x00")
			}
		}
	case endMsg:
		m.ended, m.err = true, msg.err
	case tea.KeyMsg:
		switch msg.String() {
		case "q", "ctrl+c":
			return m, tea.Quit
		case "up", "k":
			if m.sel > 0 {
				m.sel, m.scroll, m.follow = m.sel-1, 0, false
			}
		case "down", "j":
			if m.sel < len(m.entries)-1 {
				m.sel, m.scroll = m.sel+1, 0
				m.follow = m.sel == len(m.entries)-1
			}
		case "g", "home":
			m.sel, m.scroll, m.follow = 0, 0, false
		case "G", "end":
			m.sel, m.scroll, m.follow = max(len(m.entries)-1, 0), 0, true
		case "f":
			m.follow = !m.follow
			if m.follow {
				m.sel, m.scroll = max(len(m.entries)-1, 0), 0
			}
		case "enter":
			m.detail, m.scroll = !m.detail, 0
		case "esc":
			m.detail, m.scroll = false, 0
		case "pgdown", " ":
			m.scroll += max(m.height/2, 1)
		case "pgup":
			m.scroll = max(m.scroll-max(m.height/2, 1), 0)
		}
	}
	return m, nil
}

var (
	styleHead    = lipgloss.NewStyle().Bold(true)
	styleSel     = lipgloss.NewStyle().Reverse(true)
	styleDim     = lipgloss.NewStyle().Faint(true)
	styleStderr  = lipgloss.NewStyle().Foreground(lipgloss.Color("1"))
	statusStyles = map[journal.Status]lipgloss.Style{
		journal.StatusOK:          lipgloss.NewStyle().Foreground(lipgloss.Color("2")),
		journal.StatusFailed:      lipgloss.NewStyle().Foreground(lipgloss.Color("1")),
		journal.StatusBlocked:     lipgloss.NewStyle().Foreground(lipgloss.Color("5")),
		journal.StatusRunning:     lipgloss.NewStyle().Foreground(lipgloss.Color("6")).Bold(true),
		journal.StatusTimedOut:    lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
		journal.StatusCanceled:    lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
		journal.StatusInterrupted: lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
		journal.StatusShellEnded:  lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
	}
)

func (m *watchModel) View() string {
	var b strings.Builder
	state := "live"
	switch {
	case m.err != nil:
		state = "error: " + m.err.Error()
	case m.ended:
		state = "ended"
	}
	follow := ""
	if m.follow {
		follow = " · following"
	}
	b.WriteString(styleHead.Render(clip(fmt.Sprintf("execkit watch %s — %s · %d entries%s", safety.Visible(m.path), state, len(m.entries), follow), m.width)) + "\n")
	listH := 0
	if !m.detail {
		listH = max(min(len(m.entries), (m.height-3)*2/5), 1)
		first := max(0, min(m.sel-listH/2, len(m.entries)-listH))
		for i := first; i < first+listH && i < len(m.entries); i++ {
			e := m.entries[i]
			exit := "-"
			if e.Completion != nil {
				exit = strconv.Itoa(e.Completion.ExitCode)
			}
			st := statusStyles[e.Status].Render(fmt.Sprintf("%-11s", e.Status))
			line := fmt.Sprintf("%4d %s %4s  %s", e.Seq, st, exit, clip(oneLine(safety.Visible(e.Command), m.width), m.width-24))
			if i == m.sel {
				line = styleSel.Render(fmt.Sprintf("%4d %-11s %4s  %s", e.Seq, e.Status, exit, clip(oneLine(safety.Visible(e.Command), m.width), m.width-24)))
			}
			b.WriteString(line + "\n")
		}
		if len(m.entries) == 0 {
			b.WriteString(styleDim.Render("no entries yet") + "\n")
		}
		b.WriteString(styleDim.Render(strings.Repeat("─", max(m.width, 1))) + "\n")
	}
	room := max(m.height-listH-3, 1)
	lines := m.outputLines()
	m.scroll = min(m.scroll, max(len(lines)-room, 0))
	for _, l := range lines[min(m.scroll, len(lines)):min(m.scroll+room, len(lines))] {
		b.WriteString(l + "\n")
	}
	b.WriteString(styleDim.Render(clip("↑↓ select · enter open · pgup/pgdn scroll · g/G first/last · f follow · q quit", m.width)))
	return b.String()
}

// outputLines is the selected entry: its command, then its output (the
// running one's as it streams), stderr in red, then how it ended.
func (m *watchModel) outputLines() []string {
	if len(m.entries) == 0 {
		return nil
	}
	e := m.entries[min(m.sel, len(m.entries)-1)]
	out := []string{styleHead.Render(clip(fmt.Sprintf("%s $ %s", safety.Visible(e.CwdBefore), oneLine(safety.Visible(e.Command), 1<<20)), m.width))}
	add := func(text string, style *lipgloss.Style) {
		for _, l := range strings.Split(strings.TrimSuffix(safety.Visible(text), "\n"), "\n") {
			l = clip(l, m.width)
			if style != nil {
				l = style.Render(l)
			}
			out = append(out, l)
		}
	}
	switch {
	case e.Completion != nil:
		if e.Completion.Stdout != "" {
			add(e.Completion.Stdout, nil)
		}
		if e.Completion.Stderr != "" {
			add(e.Completion.Stderr, &styleStderr)
		}
		out = append(out, statusStyles[e.Status].Render(fmt.Sprintf("[%s · exit %d · %.1fms · %s]", e.Status, e.Completion.ExitCode, e.Completion.DurationMS, safety.Visible(e.Completion.Cwd))))
	case e.Status == journal.StatusRunning:
		if b := m.live[e.Seq]; b != nil {
			for i, part := range strings.Split(b.String(), "\x00") {
				if part == "" {
					continue
				}
				if i%2 == 1 {
					add(part, &styleStderr)
				} else {
					add(part, nil)
				}
			}
		}
		out = append(out, statusStyles[e.Status].Render("[running…]"))
	default:
		out = append(out, statusStyles[e.Status].Render(fmt.Sprintf("[%s]", e.Status)))
		if e.Decision.Reason != "" {
			add(e.Decision.Reason, nil)
		}
	}
	return out
}

// clip cuts s to n columns.
func clip(s string, n int) string {
	if n <= 1 {
		return ""
	}
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
