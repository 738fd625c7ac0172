package api

import (
	"net/http/httptest"
	"testing"

	"github.com/votecast/votecast/schema"
)

func TestCSVExport(t *testing.T) {
	rec := httptest.NewRecorder()
	p := schema.Poll{ID: "abcdefghij", Options: []string{"Kim, Min-jae", "=HYPERLINK(\"x\")", "-1"}}
	writeCSV(rec, p, schema.Totals{Counts: []int64{3, 2, 1}, Total: 6})
	want := "option,votes\n\"Kim, Min-jae\",3\n\"'=HYPERLINK(\"\"x\"\")\",2\n'-1,1\ntotal,6\n"
	if got := rec.Body.String(); got != want {
		t.Fatalf("csv:\n%s\nwant:\n%s", got, want)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Fatalf("content type %q", ct)
	}
}
