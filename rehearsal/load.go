package rehearsal

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Marker tags every page of a rehearsal version, so that each response tells which version
// served it. An HTML comment: the page still passes a ValidateService that looks for its text.
func Marker(version string) string { return "<!-- rehearsal revision: " + version + " -->\n" }

var markerRE = regexp.MustCompile(`<!-- rehearsal revision: ([A-Za-z0-9._-]+) -->`)

// RevisionOf reads the version that served a response ("" when it names none).
func RevisionOf(body []byte) string {
	if m := markerRE.FindSubmatch(body); m != nil {
		return string(m[1])
	}
	return ""
}

// Sample is one request of the rehearsal's load.
type Sample struct {
	Time    time.Time
	Latency time.Duration
	// Code is the HTTP status; 0 when the request got no response (refused, reset, timed out).
	Code uint16
	Err  string
	// Revision is the revision that served the request, read from the response body.
	Revision string
	// Load is the name of the load that sent it.
	Load string
	// Server is the instance the load balancer sent it to ("<NOSRV>" when it had none).
	Server string
	// FromTarget: the target sent the response (TargetHeader), not the load balancer.
	FromTarget bool
}

// Failed reports a request a user would have seen fail.
func (s Sample) Failed() bool { return s.Code < 200 || s.Code >= 400 }

// Load is steady traffic through the rehearsal's load balancer, from a real load generator
// (vegeta, as a library), every request recorded.
type Load struct {
	// Name tells this load's requests from another's in the samples.
	Name string
	// URL is the load balancer's frontend: an address inside the rehearsal's own namespaces or
	// on loopback, never anywhere else.
	URL string
	// Rate is requests per second.
	Rate int
	// Max bounds the attack's duration; the context ends it earlier.
	Max time.Duration
	// RevisionOf reads the serving revision from a response body.
	RevisionOf func(body []byte) string
	// OnSample, when set, hears of every request as its answer comes (the alarms' metrics).
	OnSample func(Sample)
}

// Run sends the load until ctx ends or Max passes, and returns every request, in order.
func (l Load) Run(ctx context.Context) ([]Sample, error) {
	if l.Rate <= 0 || l.Max <= 0 || l.URL == "" {
		return nil, fmt.Errorf("rehearsal: load needs a URL, a positive rate and a maximum duration")
	}
	// No keep-alive: Go's HTTP client silently sends a GET again when a reused connection closes
	// before the answer, so a request the load balancer cut would be retried on another instance
	// and never counted. Each request on its own connection fails where a user's would.
	attacker := vegeta.NewAttacker(vegeta.Timeout(5*time.Second), vegeta.KeepAlive(false), vegeta.MaxBody(4096))
	targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: l.URL})
	stop := context.AfterFunc(ctx, func() { attacker.Stop() })
	defer stop()
	var samples []Sample
	pacer := &poisson{rate: float64(l.Rate), rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	for res := range attacker.Attack(targeter, pacer, l.Max, "rehearsal") {
		s := Sample{Time: res.Timestamp, Latency: res.Latency, Code: res.Code, Err: res.Error, Load: l.Name, Server: res.Headers.Get("X-Served-By"),
			FromTarget: res.Headers.Get(TargetHeader) != ""}
		if l.RevisionOf != nil && !s.Failed() {
			s.Revision = l.RevisionOf(res.Body)
		}
		if l.OnSample != nil {
			l.OnSample(s)
		}
		samples = append(samples, s)
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i].Time.Before(samples[j].Time) })
	return samples, nil
}

// poisson is a vegeta pacer whose requests arrive at random, rate per second on average, as
// users' requests do. A constant pace is not used: with two loads at constant rates, a
// round-robin balancer sends each load's requests to the same instances every time (with 50
// and 25 per second over three instances, one instance would get almost no slow requests).
type poisson struct {
	rate float64
	mu   sync.Mutex
	rng  *rand.Rand
	// at is when each request is due, from the start of the attack.
	at []time.Duration
}

func (p *poisson) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for uint64(len(p.at)) <= hits {
		var last time.Duration
		if len(p.at) > 0 {
			last = p.at[len(p.at)-1]
		}
		p.at = append(p.at, last+time.Duration(p.rng.ExpFloat64()/p.rate*float64(time.Second)))
	}
	return max(p.at[hits]-elapsed, 0), false
}

func (p *poisson) Rate(time.Duration) float64 { return p.rate }

// Summary is what a scenario's table shows of its load.
type Summary struct {
	Requests, Failed int
	P50, P99         time.Duration
}

// Summarize counts the requests and failures and takes the latency percentiles.
func Summarize(samples []Sample) Summary {
	s := Summary{Requests: len(samples)}
	latencies := make([]time.Duration, 0, len(samples))
	for _, x := range samples {
		if x.Failed() {
			s.Failed++
		}
		latencies = append(latencies, x.Latency)
	}
	if len(latencies) == 0 {
		return s
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	at := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
	s.P50, s.P99 = at(0.50), at(0.99)
	return s
}
