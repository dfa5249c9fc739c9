package templatecheck

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// TestTimeLimitsAreInOrder: the time limits of a request (shared/ledger
// deadlines.go) each end before the next, and the function timeout is the
// template's. A posting's commit deadline inside the retry budget, the
// budget inside the function's timeout less the reserve for the answer,
// the function inside API Gateway's integration timeout: so every answer,
// 503 included, is the function's own problem+json.
func TestTimeLimitsAreInOrder(t *testing.T) {
	var globals struct {
		Globals struct {
			Function struct {
				Timeout int `yaml:"Timeout"`
			} `yaml:"Function"`
		} `yaml:"Globals"`
	}
	raw, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &globals); err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(globals.Globals.Function.Timeout) * time.Second; got != ledger.FunctionTimeout {
		t.Errorf("template.yaml Globals.Function.Timeout is %v, ledger.FunctionTimeout %v", got, ledger.FunctionTimeout)
	}
	order := []struct {
		name string
		d    time.Duration
	}{
		{"PostingDeadline", ledger.PostingDeadline},
		{"RetryBudget", ledger.RetryBudget},
		{"FunctionTimeout - AnswerReserve", ledger.FunctionTimeout - ledger.AnswerReserve},
		{"FunctionTimeout", ledger.FunctionTimeout},
		{"GatewayTimeout", ledger.GatewayTimeout},
	}
	for i := 1; i < len(order); i++ {
		if order[i-1].d > order[i].d {
			t.Errorf("%s (%v) is longer than %s (%v)", order[i-1].name, order[i-1].d, order[i].name, order[i].d)
		}
	}
	if ledger.LandingGrace >= ledger.AnswerReserve {
		t.Errorf("LandingGrace %v does not fit in AnswerReserve %v", ledger.LandingGrace, ledger.AnswerReserve)
	}
}
