package preflight

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the checklist for a person: a line per item, what
// to do under it, then the verdict.
func WriteTable(w io.Writer, items []Item) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ITEM\tSTATE\tFIGURE")
	for _, it := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", it.Item, strings.ToUpper(it.State), it.Figure)
		if it.Todo != "" && it.State != OK {
			fmt.Fprintf(tw, "\t\t-> %s\n", it.Todo)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, line := Verdict(items)
	_, err := fmt.Fprintf(w, "\n%s\n", line)
	return err
}

// num writes a figure with thousands separators and at most one decimal.
func num(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "?"
	}
	f = math.Round(f*10) / 10
	if math.Abs(f) >= 1000 {
		f = math.Round(f)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	whole, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if frac != "" {
		out += "." + frac
	}
	return out
}

func bytesOf(f float64) string {
	switch {
	case f >= 1<<30:
		return fmt.Sprintf("%.1f GiB", f/(1<<30))
	case f >= 1<<20:
		return fmt.Sprintf("%.1f MiB", f/(1<<20))
	default:
		return fmt.Sprintf("%.0f KiB", f/(1<<10))
	}
}
