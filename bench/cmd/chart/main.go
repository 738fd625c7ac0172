// Command chart draws the vote phase of `votecast load` runs: accepted
// votes/s, the p99 of their acks and the totals frames viewers received,
// over time, one PNG per run. It reads the RESULT lines (or the JSON after
// them) that load prints, one file per run, with their timeline.
//
//	chart -out DIR result-always-once.json result-2m-once.json ...
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

type point struct {
	MS           float64 `json:"ms"`
	AcceptedPerS float64 `json:"accepted_per_s"`
	AckP99MS     float64 `json:"ack_p99_ms"`
	FramesPerS   float64 `json:"frames_per_s"`
}

type result struct {
	Viewers    int     `json:"viewers"`
	TargetRate float64 `json:"target_rate"`
	Timeline   []point `json:"timeline"`
}

func main() {
	out := flag.String("out", ".", "directory for the PNG files")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: chart -out DIR RESULT.json...")
		os.Exit(2)
	}
	failed := false
	for _, in := range flag.Args() {
		png := filepath.Join(*out, strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))+".png")
		if err := draw1(in, png); err != nil {
			fmt.Fprintf(os.Stderr, "chart %s: %v\n", in, err)
			failed = true
			continue
		}
		fmt.Println(png)
	}
	if failed {
		os.Exit(1)
	}
}

// read takes the last RESULT line of a file, or the file as JSON.
func read(path string) (result, error) {
	var r result
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	body := bytes.TrimSpace(b)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if line, ok := bytes.CutPrefix(sc.Bytes(), []byte("RESULT ")); ok {
			body = append([]byte(nil), line...)
		}
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("read %s: %w", path, err)
	}
	if len(r.Timeline) == 0 {
		return r, errors.New("no timeline (a load run from before timelines, or one that failed)")
	}
	return r, nil
}

func draw1(in, out string) error {
	r, err := read(in)
	if err != nil {
		return err
	}
	how := "all at once"
	if r.TargetRate > 0 {
		how = fmt.Sprintf("at %.0f votes/s", r.TargetRate)
	}
	panels := []struct {
		title, unit string
		y           func(point) float64
		c           color.RGBA
	}{
		{"accepted votes/s", "votes/s", func(p point) float64 { return p.AcceptedPerS }, color.RGBA{R: 0x25, G: 0x63, B: 0xeb, A: 255}},
		{"ack p99 of the votes accepted in each 100 ms", "ms", func(p point) float64 { return p.AckP99MS }, color.RGBA{R: 0xdc, G: 0x26, B: 0x26, A: 255}},
		{"totals frames to viewers/s", "frames/s", func(p point) float64 { return p.FramesPerS }, color.RGBA{R: 0x05, G: 0x96, B: 0x69, A: 255}},
	}
	plots := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		if i == 0 {
			p.Title.Text = fmt.Sprintf("%s: %d viewers voting %s (%s)", filepath.Base(in), r.Viewers, how, pn.title)
		}
		p.X.Label.Text = "ms since the first vote"
		p.Y.Label.Text = pn.unit
		p.Y.Min = 0
		xys := make(plotter.XYs, len(r.Timeline))
		for k, pt := range r.Timeline {
			xys[k].X, xys[k].Y = pt.MS, pn.y(pt)
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Color = pn.c
		l.Width = vg.Points(1.5)
		p.Add(l, plotter.NewGrid())
		plots[i] = []*plot.Plot{p}
	}
	img := vgimg.New(vg.Points(900), vg.Points(900))
	dc := draw.New(img)
	canvases := plot.Align(plots, draw.Tiles{Rows: len(panels), Cols: 1, PadY: vg.Points(12), PadX: vg.Points(8), PadTop: vg.Points(8), PadBottom: vg.Points(8)}, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
