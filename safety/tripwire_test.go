package safety

import (
	"strings"
	"testing"

	"github.com/execkit/execkit/safety/safetytest"
)

// destructive must all be refused by the tripwire alone; everyday
// commands run under it.
var (
	destructive = safetytest.TripwireDestructive
	everyday    = safetytest.TripwireEveryday
)

func TestTripwire(t *testing.T) {
	p := TripwirePolicy()
	for _, c := range destructive {
		d := p.Check(c)
		if d.Allowed || !strings.HasPrefix(d.Rule, "tripwire:") || d.Reason == "" {
			t.Errorf("%q: %+v, want a tripwire refusal", c, d)
		}
	}
	for _, c := range everyday {
		if d := p.Check(c); !d.Allowed {
			t.Errorf("%q refused by the tripwire alone: %+v", c, d)
		}
	}
	t.Logf("%d destructive commands refused, %d everyday ones allowed", len(destructive), len(everyday))
	// Under a stricter policy the tripwire still holds, and the lists add
	// their own refusals.
	strict := Merge(TripwirePolicy(), &Policy{Deny: []string{"curl"}})
	if d := strict.Check(`rm -rf /`); d.Allowed || !strings.HasPrefix(d.Rule, "tripwire:") {
		t.Errorf("tripwire with a deny list: %+v", d)
	}
	if d := strict.Check(`bash -c "$CMD"`); d.Allowed || d.Rule != "dynamic" {
		t.Errorf("with a deny list, a computed command is refused: %+v", d)
	}
	if (&Policy{Deny: []string{"curl"}}).Check(`rm -rf /`).Allowed != true {
		t.Error("a policy without the tripwire refused rm -rf /")
	}
}
