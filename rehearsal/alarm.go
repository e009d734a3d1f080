package rehearsal

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Watch is CloudWatch for the rehearsal: it turns every request the load balancer answered, and
// the targets' health, into the load balancer metrics the gating alarms watch, one datapoint per
// alarm period, and evaluates each alarm as CloudWatch does. Its clock is the rehearsal's: the
// periods and the delay are the template's divided by the scale. A period on that clock is Scale
// times shorter than the template's and holds Scale times fewer requests at the same rate, so
// each request counts Scale times in the count metrics: the load's rate stands for requests per
// second of the template's clock, and an alarm's threshold means what it means on AWS whatever
// the scale.
//
// The metrics, as the load balancer defines them (ELB user guide, "CloudWatch metrics for your
// Application Load Balancer"): HTTPCode_Target_5XX_Count, the 5xx responses the targets sent;
// HTTPCode_ELB_5XX_Count, the 5xx the load balancer made itself; both reported only when nonzero
// ("Reporting criteria: There is a nonzero value"). A request that got no response at all counts
// as the load balancer's 5xx: that is HAProxy closing a connection (a drain's end, no target),
// where the ALB answers 502 or 503 (an assumption of the rehearsal's). UnHealthyHostCount, the
// registered targets failing the health check (the sandbox's Balancer.Unhealthy says which).
// TargetResponseTime, the seconds a target took to answer, reported only when there were
// requests. At x30 one stray 5xx counts as 30: a rare error weighs more here than on AWS, where
// the rate it stands for would spread errors evenly.
type Watch struct {
	Alarms []Alarm
	// Start is when the first period begins; Scale divides every period and the delay.
	Start time.Time
	Scale float64
	// Delay is the time a datapoint takes to reach CloudWatch after its period ends (the
	// template's assumption, MetricDelay).
	Delay time.Duration

	mu      sync.Mutex
	periods map[time.Duration]map[int]*period
}

// period is what one alarm period saw.
type period struct {
	target5xx, elb5xx int
	unhealthy         int
	sawHealth         bool
	latencies         []float64
}

// Response is one request as the load balancer's metrics count it.
type Response struct {
	At time.Time
	// Status is the HTTP status; 0 when the client got no response.
	Status int
	// FromTarget: a target sent it (not the load balancer).
	FromTarget bool
	Latency    time.Duration
}

func (w *Watch) scaled(d time.Duration) time.Duration {
	return max(time.Duration(float64(d)/w.Scale), time.Millisecond)
}

// each calls f with the period of t of every alarm period length.
func (w *Watch) each(t time.Time, f func(*period)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.periods == nil {
		w.periods = map[time.Duration]map[int]*period{}
	}
	seen := map[time.Duration]bool{}
	for _, a := range w.Alarms {
		if seen[a.Period] {
			continue
		}
		seen[a.Period] = true
		if t.Before(w.Start) {
			continue
		}
		i := int(t.Sub(w.Start) / w.scaled(a.Period))
		byIndex := w.periods[a.Period]
		if byIndex == nil {
			byIndex = map[int]*period{}
			w.periods[a.Period] = byIndex
		}
		p := byIndex[i]
		if p == nil {
			p = &period{}
			byIndex[i] = p
		}
		f(p)
	}
}

// Add counts one response.
func (w *Watch) Add(r Response) {
	w.each(r.At, func(p *period) {
		switch {
		case r.FromTarget:
			if r.Status >= 500 && r.Status <= 599 {
				p.target5xx++
			}
			p.latencies = append(p.latencies, r.Latency.Seconds())
		case r.Status == 0 || r.Status >= 500:
			p.elb5xx++
		}
	})
}

// Health records how many registered targets fail the health check at t; a period's datapoint
// is its maximum.
func (w *Watch) Health(t time.Time, unhealthy int) {
	w.each(t, func(p *period) {
		p.sawHealth = true
		p.unhealthy = max(p.unhealthy, unhealthy)
	})
}

// datapoint is a's metric in period i, and whether it was reported.
func (w *Watch) datapoint(a Alarm, i int) (float64, bool) {
	p := w.periods[a.Period][i]
	if p == nil {
		return 0, false
	}
	switch a.Metric {
	case "HTTPCode_Target_5XX_Count":
		return float64(p.target5xx) * w.Scale, p.target5xx > 0
	case "HTTPCode_ELB_5XX_Count":
		return float64(p.elb5xx) * w.Scale, p.elb5xx > 0
	case "UnHealthyHostCount":
		return float64(p.unhealthy), p.sawHealth
	case "TargetResponseTime":
		if len(p.latencies) == 0 {
			return 0, false
		}
		return statistic(a.Statistic, p.latencies), true
	}
	return 0, false
}

// Evaluable says why the rehearsal cannot evaluate an alarm as CloudWatch would, nil when it can:
// the load balancer's metrics above, counts by Sum, UnHealthyHostCount by Maximum, and
// TargetResponseTime by any statistic.
func Evaluable(a Alarm) error {
	switch a.Metric {
	case "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count":
		if a.Statistic != "Sum" {
			return fmt.Errorf("%s counts by Sum here, not %s", a.Metric, a.Statistic)
		}
	case "UnHealthyHostCount":
		if a.Statistic != "Maximum" {
			return fmt.Errorf("%s is taken by Maximum here, not %s", a.Metric, a.Statistic)
		}
	case "TargetResponseTime":
		if !knownStatistic(a.Statistic) {
			return fmt.Errorf("%s: no statistic %s", a.Metric, a.Statistic)
		}
	default:
		return fmt.Errorf("the rehearsal computes the load balancer's 5xx counts, UnHealthyHostCount and TargetResponseTime, not %s", a.Metric)
	}
	switch a.Comparison {
	case "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold":
		return nil
	}
	return fmt.Errorf("comparison %s", a.Comparison)
}

// knownStatistic reports a statistic the rehearsal computes: Sum, Maximum, Minimum, Average,
// SampleCount or a percentile pNN(.NN).
func knownStatistic(name string) bool {
	switch name {
	case "Sum", "Maximum", "Minimum", "Average", "SampleCount":
		return true
	}
	p, err := strconv.ParseFloat(strings.TrimPrefix(name, "p"), 64)
	return strings.HasPrefix(name, "p") && err == nil && p > 0 && p <= 100
}

// statistic is a statistic over values: Sum, Maximum, Minimum, Average or pNN(.NN).
func statistic(name string, values []float64) float64 {
	switch name {
	case "Sum":
		s := 0.0
		for _, v := range values {
			s += v
		}
		return s
	case "Maximum":
		return slicesMax(values)
	case "Minimum":
		return -slicesMax(negate(values))
	case "Average":
		return statistic("Sum", values) / float64(len(values))
	case "SampleCount":
		return float64(len(values))
	}
	if p, err := strconv.ParseFloat(strings.TrimPrefix(name, "p"), 64); err == nil && strings.HasPrefix(name, "p") {
		sorted := append([]float64(nil), values...)
		sort.Float64s(sorted)
		rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
		return sorted[min(max(rank, 0), len(sorted)-1)]
	}
	return 0
}

func slicesMax(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

func negate(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = -x
	}
	return out
}

// breaches compares a datapoint with a's threshold by a's comparison operator.
func breaches(a Alarm, v float64) bool {
	switch a.Comparison {
	case "GreaterThanOrEqualToThreshold":
		return v >= a.Threshold
	case "GreaterThanThreshold":
		return v > a.Threshold
	case "LessThanThreshold":
		return v < a.Threshold
	case "LessThanOrEqualToThreshold":
		return v <= a.Threshold
	}
	return false
}

// InAlarm reports the alarms in ALARM at now, as CloudWatch evaluates them: over the last
// EvaluationPeriods periods whose datapoints have reached it (a period's datapoint arrives Delay
// after the period ends), an alarm is in ALARM when DatapointsToAlarm of them breach ("Datapoints
// to Alarm is the number of data points within the evaluation period that must be breaching ...
// When you configure Evaluation Period and Datapoints to Alarm as different values, you are
// setting an 'M out of N' alarm", CloudWatch user guide, "Evaluating an alarm"). A missing
// datapoint counts as TreatMissingData says: breaching as over the threshold, notBreaching as
// within it. missing and ignore keep the alarm's state on AWS where data is missing; the
// rehearsal counts them as within the threshold, which can only make an alarm slower here.
func (w *Watch) InAlarm(now time.Time) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var firing []string
	for _, a := range w.Alarms {
		period := w.scaled(a.Period)
		arrived := now.Sub(w.Start)
		if w.Delay > 0 {
			arrived -= w.scaled(w.Delay)
		}
		last := int(arrived/period) - 1 // the newest period that has ended and arrived
		if last < 0 {
			continue
		}
		breaching := 0
		for i := max(last-a.EvaluationPeriods+1, 0); i <= last; i++ {
			v, ok := w.datapoint(a, i)
			if (ok && breaches(a, v)) || (!ok && a.TreatMissingData == "breaching") {
				breaching++
			}
		}
		if breaching >= a.DatapointsToAlarm {
			firing = append(firing, a.Name)
		}
	}
	return firing
}
