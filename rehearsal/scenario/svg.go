package scenario

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
)

// SVG draws the scenario's timeline: the request rate with its failures on top, then CodeDeploy's
// row (each deployment, its zone waves and their monitor durations, the bake), one lane per
// instance with its lifecycle events and load-balancer marks, and one lane per alarm (OK or
// ALARM), on one time axis.
func (s *ScenarioReport) SVG(r *Report) string {
	const (
		width, left, right = 960.0, 150.0, 20.0
		top, chartH        = 52.0, 110.0
		laneH, laneGap     = 26.0, 8.0
	)
	seconds := math.Max(s.Load.Seconds, 1)
	for _, l := range s.Lanes {
		for _, sp := range l.Spans {
			seconds = math.Max(seconds, sp.End)
		}
		for _, m := range l.Marks {
			seconds = math.Max(seconds, m.At)
		}
	}
	plotW := width - left - right
	x := func(t float64) float64 { return left + plotW*math.Max(t, 0)/seconds }
	for _, d := range s.Deployments {
		for _, w := range d.Waves {
			seconds = math.Max(seconds, w.Watched)
		}
		if d.Bake != nil {
			seconds = math.Max(seconds, d.Bake.End)
		}
	}
	deployTop := top + chartH + 34
	lanesTop := deployTop + laneH + laneGap
	alarmsTop := lanesTop + float64(len(s.Lanes))*(laneH+laneGap)
	legendTop := alarmsTop + float64(len(s.Alarms))*(laneH/1.5+laneGap) + 14
	legend := s.legend()
	rows := 1.0
	lx := 10.0
	for _, it := range legend {
		if w := 26 + 6.6*float64(len(it.label)); lx+w > width-10 {
			lx, rows = 10, rows+1
		}
		lx += 26 + 6.6*float64(len(it.label))
	}
	height := legendTop + rows*18 + 42

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/>`+"\n")
	verdict, color := "pass", "#1a7f37"
	if !s.Passed {
		verdict, color = "FAIL", "#cf222e"
	}
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="15" font-weight="bold">%s: %s</text>`+"\n", esc(s.Name), esc(s.Title))
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#444">%d requests, <tspan fill="%s">%d failed</tspan>, p50 %.1f ms, p99 %.1f ms; load balancer clock x%g; <tspan fill="%s" font-weight="bold">%s</tspan></text>`+"\n",
		s.Load.Requests, failColor(s.Load.Failed), s.Load.Failed, s.Load.P50Ms, s.Load.P99Ms, r.Scale, color, verdict)

	// Request rate per second, stacked: answered, by the version that answered (shades of grey
	// and amber), and failed (red).
	versions, shade := s.shades()
	peak := 1.0
	for _, bin := range s.Load.Bins {
		peak = math.Max(peak, float64(bin.OK+bin.Failed)/s.Load.BinSeconds)
	}
	y := func(rate float64) float64 { return top + chartH - chartH*rate/peak }
	fmt.Fprintf(&b, `<text x="10" y="%.0f">requests/s</text><text x="10" y="%.0f" fill="#888">peak %.0f</text>`+"\n", top+14, top+30, peak)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#ccc"/>`+"\n", left, top+chartH, width-right, top+chartH)
	w := plotW * s.Load.BinSeconds / seconds
	for _, bin := range s.Load.Bins {
		ok, failed := float64(bin.OK)/s.Load.BinSeconds, float64(bin.Failed)/s.Load.BinSeconds
		base := 0.0
		for _, v := range versions {
			if n := float64(bin.Served[v]) / s.Load.BinSeconds; n > 0 {
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x(bin.At), y(base+n), w, y(base)-y(base+n), shade[v])
				base += n
			}
		}
		if bin.Failed > 0 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#cf222e"><title>%d failed</title></rect>`, x(bin.At), y(ok+failed), w, y(ok)-y(ok+failed), bin.Failed)
		}
	}
	b.WriteString("\n")

	// The time axis.
	step := niceStep(seconds)
	for t := 0.0; t <= seconds+1e-9; t += step {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#eee"/><text x="%.1f" y="%.0f" fill="#666" text-anchor="middle">%gs</text>`+"\n",
			x(t), top, x(t), height-60, x(t), top+chartH+16, t)
	}

	// One lane per instance.
	for i, l := range s.Lanes {
		ly := lanesTop + float64(i)*(laneH+laneGap)
		fmt.Fprintf(&b, `<text x="10" y="%.0f" font-weight="bold">%s</text>`+"\n", ly+laneH/2+4, esc(l.Instance))
		if l.Zone != "" {
			fmt.Fprintf(&b, `<text x="48" y="%.0f" fill="#57606a" font-size="11">%s</text>`+"\n", ly+laneH/2+4, esc(l.Zone))
		}
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="#f6f8fa"/>`+"\n", left, ly, plotW, laneH)
		for _, sp := range l.Spans {
			fill := map[string]string{"traffic": "#54aeff", "hook": "#4ac26b", "install": "#bf8700"}[sp.Kind]
			if sp.Label == "ApplicationStop" {
				fill = "#8250df"
			}
			if sp.Failed {
				fill = "#cf222e"
			}
			w := math.Max(x(sp.End)-x(sp.Start), 1.5)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="%s" stroke="#fff" stroke-width="0.5"><title>%s %.2f–%.2f s</title></rect>`+"\n",
				x(sp.Start), ly+3, w, laneH-6, fill, esc(sp.Label), sp.Start, sp.End)
			// The name where it fits: the long events are the ones worth reading.
			if label := sp.Label; 6.2*float64(len(label))+8 < w {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" fill="#fff" font-size="11">%s</text>`+"\n", x(sp.Start)+4, ly+laneH/2+4, esc(label))
			}
		}
		for _, m := range l.Marks {
			stroke := "#24292f"
			if m.What == "terminated" {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="16" fill="#cf222e" text-anchor="middle">✕</text>`, x(m.At), ly+laneH/2+6)
				continue
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="%s" stroke-dasharray="2,2"><title>%s at %.2f s</title></line>`+"\n",
				x(m.At), ly, x(m.At), ly+laneH, stroke, esc(m.What), m.At)
		}
	}

	// CodeDeploy's row: each deployment (the user's, a rollback, the bake's restore), its
	// zone waves with their monitor durations, and the bake.
	fmt.Fprintf(&b, `<text x="10" y="%.0f" font-weight="bold">CodeDeploy</text>`+"\n", deployTop+laneH/2+4)
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="#f6f8fa"/>`+"\n", left, deployTop, plotW, laneH)
	for _, d := range s.Deployments {
		if d.Creator == "autoscalingTermination" {
			continue
		}
		fill := map[string]string{"user": "#0969da", "codeDeployRollback": "#953800"}[d.Creator]
		if fill == "" {
			fill = "#57606a"
		}
		label := d.Revision
		switch {
		case d.Creator == "codeDeployRollback":
			label = "rollback to " + d.Revision
		case d.Restores != "":
			label, fill = "restore "+d.Revision, "#1a7f37"
		}
		bar := func(from, to float64, fill, label, title string, opacity float64) {
			w := math.Max(x(to)-x(from), 1.5)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="%s" fill-opacity="%.2f" stroke="#fff" stroke-width="0.5"><title>%s %.2f–%.2f s</title></rect>`+"\n",
				x(from), deployTop+3, w, laneH-6, fill, opacity, esc(title), from, to)
			if 6.2*float64(len(label))+8 < w {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" fill="#fff" font-size="11">%s</text>`+"\n", x(from)+4, deployTop+laneH/2+4, esc(label))
			}
		}
		if len(d.Waves) == 0 {
			bar(d.Start, d.End, fill, label, d.ID+" "+label, 1)
		}
		for i, w := range d.Waves {
			name := label
			if w.Zone != "" {
				name = fmt.Sprintf("%s: %s", label, w.Zone)
			}
			bar(w.Start, w.End, fill, name, fmt.Sprintf("%s %s, wave %d (%s)", d.ID, label, i+1, strings.Join(w.Instances, ", ")), 1)
			if w.Watched > w.End+1e-3 {
				bar(w.End, w.Watched, fill, "monitor", d.ID+" monitor duration", 0.35)
			}
		}
		if d.Bake != nil {
			bar(d.Bake.Start, d.Bake.End, "#1a7f37", "bake", d.ID+" bake", 0.45)
		}
		if d.StoppedBy != "" && len(d.Waves) > 0 {
			at := d.Waves[len(d.Waves)-1].Watched
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="13" fill="#cf222e" text-anchor="middle">■<title>stopped by %s at %.2f s</title></text>`+"\n", x(at), deployTop+laneH/2+5, esc(d.StoppedBy), at)
		}
	}

	// One lane per alarm: ALARM in red over OK.
	for i, a := range s.Alarms {
		ly := alarmsTop + float64(i)*(laneH/1.5+laneGap)
		h := laneH / 1.5
		state := "gating"
		if !a.Gating {
			state = "detached"
		}
		fmt.Fprintf(&b, `<text x="10" y="%.0f" font-size="11"><title>%s: %s</title>%s <tspan fill="#57606a">%s</tspan></text>`+"\n", ly+h/2+4, esc(a.Name), esc(a.Rule), esc(shortAlarm(a.Name)), state)
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="#dafbe1"/>`+"\n", left, ly, plotW, h)
		for _, sp := range a.Spans {
			end := sp.End
			if end < 0 {
				end = seconds
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="#cf222e"><title>ALARM %.2f–%.2f s</title></rect>`+"\n", x(sp.Start), ly, math.Max(x(end)-x(sp.Start), 1.5), h, sp.Start, end)
		}
	}

	// The legend, wrapped, and what the marks mean.
	ly, lx := legendTop, 10.0
	for _, it := range legend {
		w := 26 + 6.6*float64(len(it.label))
		if lx+w > width-10 {
			lx, ly = 10, ly+18
		}
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`, lx, ly, it.fill, lx+16, ly+10, esc(it.label))
		lx += w
	}
	fmt.Fprintf(&b, "\n"+`<text x="10" y="%.0f" fill="#666">dashed: target state changes (draining, deregistered, registered, healthy); ✕: instance terminated; ■: stopped by an alarm.</text>`+"\n", ly+34)
	fmt.Fprintf(&b, `<text x="10" y="%.0f" fill="#666">Alarms: green OK, red ALARM. Seconds from the start of the load, on the rehearsal's clock (the template's divided by %g; hooks run in real time).</text>`+"\n", ly+50, r.Scale)
	b.WriteString("</svg>\n")
	return b.String()
}

type legendItem struct{ fill, label string }

func (s *ScenarioReport) legend() []legendItem {
	var items []legendItem
	versions, shade := s.shades()
	for _, v := range versions {
		items = append(items, legendItem{shade[v], "served by " + v})
	}
	return append(items,
		legendItem{"#cf222e", "failed request / event"}, legendItem{"#54aeff", "traffic: Block/AllowTraffic, Auto Scaling deregistration"},
		legendItem{"#4ac26b", "hooks"}, legendItem{"#bf8700", "download, install"}, legendItem{"#8250df", "ApplicationStop"},
		legendItem{"#0969da", "deployment (monitor duration lighter)"}, legendItem{"#953800", "CodeDeploy's rollback"}, legendItem{"#1a7f37", "bake (lighter), its restore"})
}

// shades gives each version that served requests its colour, in name order.
func (s *ScenarioReport) shades() ([]string, map[string]string) {
	var versions []string
	for v := range s.Load.ServedBy {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	palette := []string{"#afb8c1", "#57606a", "#d4a72c", "#8c959f", "#953800"}
	shade := map[string]string{}
	for i, v := range versions {
		shade[v] = palette[i%len(palette)]
	}
	return versions, shade
}

// shortAlarm is an alarm's name without the stack's prefix: the stack names its alarms
// "<stack>-<fleet>-target-5xx".
func shortAlarm(name string) string {
	if i := strings.LastIndex(name, "-fleet-"); i >= 0 {
		return name[i+len("-fleet-"):]
	}
	if len(name) > 18 {
		return "…" + name[len(name)-17:]
	}
	return name
}

func failColor(n int) string {
	if n > 0 {
		return "#cf222e"
	}
	return "#1a7f37"
}

func esc(s string) string { return html.EscapeString(s) }

// niceStep is a tick interval that gives about ten ticks.
func niceStep(seconds float64) float64 {
	for _, s := range []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120} {
		if seconds/s <= 12 {
			return s
		}
	}
	return 300
}
