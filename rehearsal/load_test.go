package rehearsal

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoadRecordsEveryRequest: load against a server on loopback that serves v1, then fails for
// a while, then serves v2; every request is recorded, the failures counted, the revisions read.
func TestLoadRecordsEveryRequest(t *testing.T) {
	t.Parallel()
	var phase atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		switch phase.Load() {
		case 0:
			w.Write([]byte("revision v1"))
		case 1:
			http.Error(w, "no healthy target", http.StatusServiceUnavailable)
		default:
			w.Write([]byte("revision v2"))
		}
	}))
	defer srv.Close()
	go func() {
		time.Sleep(100 * time.Millisecond)
		phase.Store(1)
		time.Sleep(100 * time.Millisecond)
		phase.Store(2)
	}()
	load := Load{URL: srv.URL, Rate: 200, Max: 300 * time.Millisecond,
		RevisionOf: func(body []byte) string { return strings.TrimPrefix(string(body), "revision ") }}
	samples, err := load.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sum := Summarize(samples)
	if sum.Requests < 40 || sum.Failed == 0 || sum.Failed == sum.Requests {
		t.Fatalf("summary %+v: want about 60 requests, some failed", sum)
	}
	revisions := map[string]int{}
	for i, s := range samples {
		revisions[s.Revision]++
		if i > 0 && s.Time.Before(samples[i-1].Time) {
			t.Fatal("samples out of order")
		}
	}
	if revisions["v1"] == 0 || revisions["v2"] == 0 || revisions[""] != sum.Failed {
		t.Errorf("revisions %v, failed %d", revisions, sum.Failed)
	}
	if sum.P50 <= 0 || sum.P99 < sum.P50 {
		t.Errorf("percentiles %+v", sum)
	}
}

// TestLoadStopsWithItsContext: the load is bounded by its context as well as its maximum.
func TestLoadStopsWithItsContext(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := (Load{URL: srv.URL, Rate: 50, Max: time.Minute}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("ran %v after its context ended", elapsed)
	}
	if _, err := (Load{URL: srv.URL}).Run(ctx); err == nil {
		t.Error("accepted a load without a rate")
	}
}

// TestPoissonPacing: requests arrive at the rate on average, at random: the gaps vary as much
// as they average (an exponential distribution), unlike a constant pace whose gaps never vary.
func TestPoissonPacing(t *testing.T) {
	p := &poisson{rate: 50, rng: rand.New(rand.NewPCG(1, 2))}
	const n = 20000
	p.Pace(0, n)
	var sum, sumSq float64
	for i := 1; i < n; i++ {
		gap := (p.at[i] - p.at[i-1]).Seconds()
		sum += gap
		sumSq += gap * gap
	}
	mean := sum / (n - 1)
	sd := math.Sqrt(sumSq/(n-1) - mean*mean)
	if math.Abs(mean-0.02) > 0.001 || math.Abs(sd/mean-1) > 0.05 {
		t.Errorf("gaps: mean %.4f s (want 0.02), deviation/mean %.2f (want 1)", mean, sd/mean)
	}
	if wait, stop := p.Pace(p.at[10]+time.Second, 10); wait != 0 || stop {
		t.Errorf("a late request waits %v (stop %v), want 0", wait, stop)
	}
}
