package coldstart

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestReplaceSection(t *testing.T) {
	doc := "# T\n\nbefore\n" + BeginMarker + "\nold\n" + EndMarker + "\nafter\n"
	got, err := ReplaceSection(doc, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# T\n\nbefore\n" + BeginMarker + "\nnew table\n" + EndMarker + "\nafter\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// Replacing again gives the same document.
	if again, _ := ReplaceSection(got, "new table"); again != want {
		t.Errorf("not idempotent: %q", again)
	}
	if got, _ := ReplaceSection("# T\n", "x"); got != "# T\n\n"+BeginMarker+"\nx\n"+EndMarker+"\n" {
		t.Errorf("appended: %q", got)
	}
	for _, bad := range []string{EndMarker + BeginMarker, BeginMarker, BeginMarker + EndMarker + BeginMarker + EndMarker} {
		if _, err := ReplaceSection(bad, "x"); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestSpreadAndTable(t *testing.T) {
	if s := SpreadOf([]float64{5, 1, 3, 2}); s != (Spread{Median: 2.5, Min: 1, Max: 5}) {
		t.Errorf("spread %+v", s)
	}
	row := Row{Function: "Health", Arm64Size: 9 * MiB / 2, Runs: []Result{
		{Init: 10 * time.Millisecond, FirstResponse: 12 * time.Millisecond, PeakRSS: 12 * MiB},
		{Init: 14 * time.Millisecond, FirstResponse: 17 * time.Millisecond, PeakRSS: 13 * MiB},
		{Init: 11 * time.Millisecond, FirstResponse: 13 * time.Millisecond, PeakRSS: 12 * MiB},
	}}
	tab := Table([]Row{row})
	if !strings.Contains(tab, "| Health | 4.50 | 11.0 (10.0–14.0) | 13.0 (12.0–17.0) | 12.0 (12.0–13.0) |\n") {
		t.Errorf("table:\n%s", tab)
	}
	// The optional columns appear when a row has them; a row without runs
	// still gets its size.
	row.DB = []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}
	row.Statuses = []int{201, 200, 200}
	tab = Table([]Row{row, {Function: "ListAudit", Arm64Size: MiB, Failures: 2}})
	for _, want := range []string{
		"| Function | arm64 size (MiB) | amd64 init to first `next` (ms) | amd64 to first response (ms) | of which DynamoDB (ms) | peak RSS (MiB) | HTTP status |\n",
		"| Health | 4.50 | 11.0 (10.0–14.0) | 13.0 (12.0–17.0) | 2.0 (1.0–3.0) | 12.0 (12.0–13.0) | 201, 200 ×2 |\n",
		"| ListAudit (2 of 2 runs failed) | 1.00 | – | – | – | – | – |\n",
	} {
		if !strings.Contains(tab, want) {
			t.Errorf("table lacks %q:\n%s", want, tab)
		}
	}
}

// The tool builds with the Makefile's flags: hold the two equal.
func TestBuildFlagsMatchMakefile(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(mk), "\n") {
		if strings.Contains(l, "$(GO) build") && strings.Contains(l, "GOARCH=arm64") {
			line = l
		}
	}
	if line == "" {
		t.Fatal("no arm64 `$(GO) build` line in the Makefile")
	}
	var quoted []string
	for _, f := range BuildFlags {
		if strings.ContainsAny(f, " ") {
			f = "'" + f + "'"
		}
		quoted = append(quoted, f)
	}
	if want := strings.Join(quoted, " "); !strings.Contains(line, want) {
		t.Errorf("Makefile builds with\n%s\nthe tool with %s", line, want)
	}
	if !strings.Contains(line, "CGO_ENABLED=0") {
		t.Errorf("Makefile build is not static: %s", line)
	}
}
