package rehearsal

import (
	"slices"
	"testing"
	"time"
)

// The shipped alarms' shape: 2 of 3 one-minute periods at or over a threshold, missing data
// not breaching.
func fiveXX(metric string) Alarm {
	return Alarm{Name: metric, Metric: metric, Statistic: "Sum", Period: time.Minute, EvaluationPeriods: 3, DatapointsToAlarm: 2,
		Threshold: 5, Comparison: "GreaterThanOrEqualToThreshold", TreatMissingData: "notBreaching"}
}

// An alarm goes to ALARM when DatapointsToAlarm of its last EvaluationPeriods datapoints breach,
// each datapoint counted once its period has ended and the delay has passed, and back to OK when
// they no longer do.
func TestWatchMOutOfN(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	w := &Watch{Alarms: []Alarm{fiveXX("HTTPCode_Target_5XX_Count")}, Start: t0, Scale: 1, Delay: time.Minute}
	errors := func(period, n int) {
		for i := 0; i < n; i++ {
			w.Add(Response{At: t0.Add(time.Duration(period)*time.Minute + 10*time.Second), Status: 500, FromTarget: true})
		}
	}
	errors(0, 6)
	errors(1, 6)
	for _, tc := range []struct {
		at    time.Duration
		alarm bool
	}{
		{119 * time.Second, false}, // period 0 has not reached CloudWatch
		{120 * time.Second, false}, // one breaching datapoint of the two needed
		{179 * time.Second, false},
		{180 * time.Second, true}, // periods 0 and 1 breach
		{239 * time.Second, true}, // 0, 1 and an empty 2: still two
		{300 * time.Second, false},
	} {
		got := w.InAlarm(t0.Add(tc.at))
		if (len(got) > 0) != tc.alarm {
			t.Errorf("at %v: in ALARM %v, want %v", tc.at, got, tc.alarm)
		}
	}
}

// Below the threshold is not breaching; the load balancer's own errors and a request that got
// no response count as HTTPCode_ELB_5XX_Count, never as the target's; a target's 4xx counts as
// neither.
func TestWatchMetrics(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	target, elb := fiveXX("HTTPCode_Target_5XX_Count"), fiveXX("HTTPCode_ELB_5XX_Count")
	w := &Watch{Alarms: []Alarm{target, elb}, Start: t0, Scale: 1, Delay: 0}
	for period := 0; period < 2; period++ {
		at := t0.Add(time.Duration(period)*time.Minute + time.Second)
		for i := 0; i < 4; i++ {
			w.Add(Response{At: at, Status: 500, FromTarget: true}) // 4 < 5
			w.Add(Response{At: at, Status: 404, FromTarget: true})
			w.Add(Response{At: at, Status: 502})
			w.Add(Response{At: at, Status: 0})
		}
	}
	if got := w.InAlarm(t0.Add(2 * time.Minute)); !slices.Equal(got, []string{"HTTPCode_ELB_5XX_Count"}) {
		t.Errorf("in ALARM: %v, want the load balancer's 5xx alone (8 a period), not the targets' (4)", got)
	}
}

// A period on the rehearsal's clock is Scale times shorter and holds Scale times fewer requests
// at one rate: each request counts Scale times, so a threshold means what it does on AWS.
func TestWatchScale(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	w := &Watch{Alarms: []Alarm{fiveXX("HTTPCode_Target_5XX_Count")}, Start: t0, Scale: 10, Delay: time.Minute}
	// One error in each of the first two 6-second periods.
	w.Add(Response{At: t0.Add(time.Second), Status: 503, FromTarget: true})
	w.Add(Response{At: t0.Add(7 * time.Second), Status: 503, FromTarget: true})
	if got := w.InAlarm(t0.Add(17900 * time.Millisecond)); len(got) > 0 {
		t.Errorf("in ALARM at 17.9 s, before period 1 arrived (12 s + the 6 s delay): %v", got)
	}
	if got := w.InAlarm(t0.Add(18 * time.Second)); len(got) != 1 {
		t.Error("not in ALARM at 18 s: each error stands for 10 on the template's clock")
	}
}

// Missing data: breaching makes an empty period count against the release; notBreaching for
// it. UnHealthyHostCount's datapoint is the most unhealthy targets in the period.
func TestWatchMissingDataAndHealth(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	breaching := fiveXX("HTTPCode_Target_5XX_Count")
	breaching.Name, breaching.TreatMissingData = "silent", "breaching"
	unhealthy := Alarm{Name: "unhealthy", Metric: "UnHealthyHostCount", Statistic: "Maximum", Period: time.Minute, EvaluationPeriods: 3,
		DatapointsToAlarm: 2, Threshold: 1, Comparison: "GreaterThanOrEqualToThreshold", TreatMissingData: "notBreaching"}
	w := &Watch{Alarms: []Alarm{breaching, unhealthy}, Start: t0, Scale: 1}
	for _, s := range []struct {
		at time.Duration
		n  int
	}{{5 * time.Second, 0}, {30 * time.Second, 1}, {50 * time.Second, 0}, {70 * time.Second, 0}, {90 * time.Second, 2}} {
		w.Health(t0.Add(s.at), s.n)
	}
	if got := w.InAlarm(t0.Add(2 * time.Minute)); !slices.Equal(got, []string{"silent", "unhealthy"}) {
		t.Errorf("in ALARM: %v, want silent (no data, breaching) and unhealthy (a maximum of 1 then 2)", got)
	}
}

// TargetResponseTime takes its statistic over the targets' responses: p99 here.
func TestWatchLatencyPercentile(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	slow := Alarm{Name: "p99", Metric: "TargetResponseTime", Statistic: "p99", Period: time.Minute, EvaluationPeriods: 1, DatapointsToAlarm: 1,
		Threshold: 2, Comparison: "GreaterThanOrEqualToThreshold", TreatMissingData: "notBreaching"}
	w := &Watch{Alarms: []Alarm{slow}, Start: t0, Scale: 1}
	for i := 0; i < 98; i++ {
		w.Add(Response{At: t0.Add(time.Second), Status: 200, FromTarget: true, Latency: 10 * time.Millisecond})
	}
	w.Add(Response{At: t0.Add(time.Second), Status: 200, FromTarget: true, Latency: 3 * time.Second})
	w.Add(Response{At: t0.Add(time.Second), Status: 200, FromTarget: true, Latency: 3 * time.Second})
	if got := w.InAlarm(t0.Add(time.Minute)); len(got) != 1 {
		t.Errorf("2 of 100 responses over 2 s: p99 is 3 s, want ALARM, got %v", got)
	}
	if v := statistic("p50", []float64{1, 2, 3, 4}); v != 2 {
		t.Errorf("p50 of 1..4 = %g, want 2", v)
	}
	if v := statistic("Average", []float64{1, 2, 3}); v != 2 {
		t.Errorf("Average of 1..3 = %g", v)
	}
}

// The rehearsal evaluates what it can compute as CloudWatch would, and says why not otherwise.
func TestEvaluable(t *testing.T) {
	for _, tc := range []struct {
		metric, statistic string
		ok                bool
	}{
		{"HTTPCode_Target_5XX_Count", "Sum", true},
		{"HTTPCode_ELB_5XX_Count", "Average", false},
		{"UnHealthyHostCount", "Maximum", true},
		{"UnHealthyHostCount", "Minimum", false},
		{"TargetResponseTime", "p99.9", true},
		{"TargetResponseTime", "tm99", false},
		{"CPUUtilization", "Average", false},
	} {
		a := fiveXX(tc.metric)
		a.Statistic = tc.statistic
		if err := Evaluable(a); (err == nil) != tc.ok {
			t.Errorf("%s by %s: %v, want evaluable %v", tc.metric, tc.statistic, err, tc.ok)
		}
	}
}
