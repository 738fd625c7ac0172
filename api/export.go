package api

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"

	"github.com/votecast/votecast/schema"
)

// writeCSV exports a poll's results as option,votes rows.
func writeCSV(w http.ResponseWriter, p schema.Poll, t schema.Totals) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="votecast-`+p.ID+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"option", "votes"})
	for i, o := range p.Options {
		var n int64
		if i < len(t.Counts) {
			n = t.Counts[i]
		}
		_ = cw.Write([]string{safeCell(o), strconv.FormatInt(n, 10)})
	}
	_ = cw.Write([]string{"total", strconv.FormatInt(t.Total, 10)})
	cw.Flush()
}

// safeCell keeps a producer's option text from running as a formula when
// the export is opened in a spreadsheet.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
