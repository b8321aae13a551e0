package chaos

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleHistory() *History {
	h := &History{Begin: at(0), End: at(4000), Batches: baseBatches(), Rows: goodRows()}
	h.Views = []NodeViews{viewsOf("n1", h.Rows), viewsOf("n2", h.Rows)}
	h.Reads = []Read{{Node: "n2", ID: 3, Start: at(150), End: at(160), Result: 1}}
	h.LeaderTerms = map[string]string{"n1": "1 1 100\n", "n2": "1 2 200\n"}
	h.Faults = []Fault{
		{Seq: 1, Kind: KindKill, Targets: []string{"n2"}, Start: at(40), End: at(2500)},
		{Seq: 2, Kind: KindPartition, Sub: SubSplit, Targets: []string{"n1", "|", "n2", "n3"}, Start: at(1000), End: at(3000), Note: `a <b> & "c"`},
		{Seq: 3, Kind: KindDisk, Sub: SubStall, Targets: []string{"n3"}, Start: at(1000), End: at(1000), Unsupported: true},
	}
	return h
}

func TestReportFiles(t *testing.T) {
	h := sampleHistory()
	cfg := Config{Nodes: 3, Duration: 4 * time.Second, Seed: 9, Kinds: DefaultKinds, Rate: time.Second, Clients: 2, Out: t.TempDir()}
	rep := BuildReport(cfg, Plan(PlanConfig{Seed: 9, Nodes: 3, Duration: 4 * time.Second, Rate: time.Second, Kinds: DefaultKinds}), h)
	if !rep.Pass || rep.Summary.EventsAcked != 20 || rep.Summary.FaultsByKind[KindKill] != 1 || rep.Summary.FaultsUnsupported != 1 {
		t.Fatalf("summary %+v", rep.Summary)
	}
	if err := WriteReport(cfg.Out, rep, h); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(cfg.Out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if back.Seed != 9 || len(back.Checks) != 7 || len(back.Faults) != 3 || len(back.Availability.Seconds) != 4 || !back.Pass {
		t.Fatalf("report.json round trip: seed %d, %d checks, %d faults, %d seconds", back.Seed, len(back.Checks), len(back.Faults), len(back.Availability.Seconds))
	}
	f, err := os.Open(filepath.Join(cfg.Out, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, batches := 0, 0
	for sc := bufio.NewScanner(f); sc.Scan(); lines++ {
		var l historyLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("history line %d: %v", lines+1, err)
		}
		if l.Batch != nil {
			batches++
		}
	}
	if lines != 3+4+1 || batches != 4 {
		t.Fatalf("history.jsonl: %d lines, %d batches", lines, batches)
	}
	page, err := os.ReadFile(filepath.Join(cfg.Out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, want := range []string{"<svg", "#1 kill n2", "partition/split n1 | n2,n3", "a &lt;b&gt; &amp; &#34;c&#34;", "PASS"} {
		if !strings.Contains(s, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(s, "<script") || strings.Contains(s, "http://") && !strings.Contains(s, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Error("report.html is not self-contained")
	}
	svg := s[strings.Index(s, "<svg"):]
	svg = svg[:strings.Index(svg, "</svg>")+len("</svg>")]
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("the SVG is not well-formed XML: %v", err)
			}
			break
		}
	}
}

func TestReportFailVerdict(t *testing.T) {
	h := sampleHistory()
	h.Rows = h.Rows[1:] // lose id 1; the views still count it
	rep := BuildReport(Config{Nodes: 3, Out: "x"}, nil, h)
	if rep.Pass || rep.Summary.Lost != 1 || rep.Summary.ViewMismatches == 0 {
		t.Fatalf("summary %+v", rep.Summary)
	}
	var sb strings.Builder
	PrintSummary(&sb, rep)
	out := sb.String()
	for _, want := range []string{"chaos FAIL", "FAIL lost", "id 1 acknowledged by n1", "events           20 acked"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	var page strings.Builder
	WriteHTML(&page, rep)
	if !strings.Contains(page.String(), `class="fail"`) {
		t.Error("the HTML does not mark the failed check")
	}
}
