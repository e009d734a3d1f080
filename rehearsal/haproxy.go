package rehearsal

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Server is one instance behind the rehearsal's load balancer.
type Server struct {
	Name    string // the instance id
	Address string // host:port of the revision's web server (the target group's port)
	// Probe is host:port of the rehearsal's own slow probe on the instance (ProbePath).
	Probe string
}

// ProbePath is the rehearsal's own slow request. The load balancer sends it to each instance's
// probe, beside the revision's web server, while the instance is in service: it shows what a
// drain does to requests in flight whatever serves the revision's pages, and never counts
// against the revision.
const ProbePath = "/rehearsal/slow"

// HAProxy is the rehearsal's load balancer, a real HAProxy standing in for the Application Load
// Balancer: its health check and drain follow the template's target group, on a clock Scale times
// faster, so a rehearsal takes seconds where the fleet takes minutes.
type HAProxy struct {
	TargetGroup TargetGroup
	// Scale divides every duration of the target group: 10 makes a 10 s interval 1 s.
	Scale float64
	// Listen is the frontend's address, AdminSocket the runtime API's socket, a path or an
	// abstract socket's "abns@name" (register,
	// deregister).
	Listen, AdminSocket string
	Servers             []Server
	// BadRelease is the map file of the targets that run a bad release (package scenario's
	// bad-release): each answers BadPercent of its requests with a 500, as its own response.
	// Empty: no target ever does.
	BadRelease string
	BadPercent int
}

// TargetHeader marks every response a target sent, as opposed to one HAProxy made itself (no
// target, a connection cut): the alarms count the first as HTTPCode_Target_5XX_Count and the
// second as HTTPCode_ELB_5XX_Count, as the ALB does.
const TargetHeader = "X-Rehearsal-Target"

// Scaled is d on the rehearsal's clock, at least a millisecond.
func (h HAProxy) Scaled(d time.Duration) time.Duration {
	return max(time.Duration(float64(d)/h.Scale), time.Millisecond)
}

// Config renders haproxy.cfg. Servers start in maintenance, out of traffic, as instances do
// before AllowTraffic registers them; Register and Deregister are the runtime commands of
// CodeDeploy's AllowTraffic and BlockTraffic.
func (h HAProxy) Config() (string, error) {
	if h.Scale <= 0 || h.Listen == "" || h.AdminSocket == "" || len(h.Servers) == 0 {
		return "", fmt.Errorf("rehearsal: HAProxy needs a positive Scale, Listen, AdminSocket and servers")
	}
	for _, s := range h.Servers {
		if s.Name == "" || s.Address == "" || s.Probe == "" {
			return "", fmt.Errorf("rehearsal: HAProxy server %+v needs a name, an address and a probe", s)
		}
	}
	tg := h.TargetGroup
	expect, err := expectStatus(tg.HealthyHTTPCodes)
	if err != nil {
		return "", err
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%dms", h.Scaled(d).Milliseconds()) }
	admin := h.AdminSocket
	if !strings.HasPrefix(admin, "abns@") {
		// A socket file is root's alone; an abstract one has no mode, and lives in the
		// rehearsal's own network namespace.
		admin += " mode 600"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# Rendered by package rehearsal from the fleet's target group, durations divided by %g.
global
    stats socket %s level admin
    maxconn 2048

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # A request that fails on a server being taken out of service is not retried elsewhere:
    # the rehearsal counts what a client of the ALB would see.
    retries 0

frontend fleet
    bind %s
    use_backend probes if { path %s }
    default_backend targets

backend targets
    balance roundrobin
    # The target group's health check: path, interval, timeout, thresholds and success codes.
    option httpchk GET %s
    http-check expect %s
    timeout check %s
    default-server inter %s fastinter %s downinter %s rise %d fall %d
    # Which target answered, on every response, HAProxy's own errors included: the report
    # counts requests and failures per instance.
    http-after-response set-header X-Served-By %%s
    # Responses a target sent: http-response rules see only those, never HAProxy's own errors.
    http-response set-header %s 1
`, h.Scale, admin, h.Listen, ProbePath, tg.HealthCheckPath, expect, ms(tg.Timeout),
		ms(tg.Interval), ms(tg.Interval), ms(tg.Interval), tg.HealthyThreshold, tg.UnhealthyThreshold, TargetHeader)
	if h.BadRelease != "" {
		if h.BadPercent < 1 || h.BadPercent > 100 {
			return "", fmt.Errorf("rehearsal: a bad release fails 1 to 100 percent of its requests, not %d", h.BadPercent)
		}
		// The health check never passes through http-response rules: the bad release passes it.
		fmt.Fprintf(&b, `    # The bad release: a target listed in the map answers %d%% of its requests with a 500.
    http-response set-status 500 reason "Internal Server Error (the rehearsal's bad release)" if { srv_name,map(%s) -m found } { rand(100) lt %d }
`, h.BadPercent, h.BadRelease, h.BadPercent)
	}
	for _, s := range h.Servers {
		fmt.Fprintf(&b, "    server %s %s check port %d disabled\n", s.Name, s.Address, tg.HealthCheckPort)
	}
	b.WriteString(`
backend probes
    # The rehearsal's probe on each instance, in and out of service with the instance's target
    # (track: its state, drain and maintenance included).
    http-after-response set-header X-Served-By %s
`)
	for _, s := range h.Servers {
		fmt.Fprintf(&b, "    server %s %s track targets/%s\n", s.Name, s.Probe, s.Name)
	}
	return b.String(), nil
}

var httpCodes = regexp.MustCompile(`^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$`)

// expectStatus turns the target group's success codes ("200", "200-299", "200,302") into an
// HAProxy http-check expectation.
func expectStatus(codes string) (string, error) {
	if !httpCodes.MatchString(codes) {
		return "", fmt.Errorf("rehearsal: health check success codes %q", codes)
	}
	if !strings.ContainsAny(codes, "-,") {
		return "status " + codes, nil
	}
	var alternatives []string
	for _, part := range strings.Split(codes, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			alternatives = append(alternatives, part)
			continue
		}
		var low, high int
		fmt.Sscan(lo, &low)
		fmt.Sscan(hi, &high)
		for c := low; c <= high; c++ {
			alternatives = append(alternatives, fmt.Sprint(c))
		}
	}
	return "rstatus ^(" + strings.Join(alternatives, "|") + ")$", nil
}

// Register is the runtime command that registers a target (AllowTraffic): the server is ready,
// its health set down so that it takes no request before a health check passes. HAProxy keeps
// checking a server in maintenance and would otherwise put it in service at once; the command
// line runs before anything else.
func (h HAProxy) Register(server string) string {
	return fmt.Sprintf("set server targets/%[1]s state ready; set server targets/%[1]s health down", server)
}

// InService is the runtime command that puts a registered target in service once it has passed
// one health check: "After your target is registered, it must pass one health check to be
// considered healthy" (ELB user guide, "Health checks for Application Load Balancer target
// groups"). HAProxy alone would wait for rise (HealthyThreshold) checks, which the ALB asks only
// of a target that was unhealthy.
func (h HAProxy) InService(server string) string {
	return fmt.Sprintf("set server targets/%s health up", server)
}

// AllowTrafficBound is how long AllowTraffic waits for a registered target to pass a health
// check, in real time. CodeDeploy documents no limit for AllowTraffic beyond the one of every
// lifecycle event, 3600 s ("Maximum number of seconds until a deployment lifecycle event fails if
// not completed", CodeDeploy quotas), which a rehearsal cannot wait. The bound is the time the
// template's health check takes to find a new target unhealthy and then healthy again, in the
// template's own seconds (not divided by the scale: a server warms up in real time), so that a
// server that needs tens of seconds to start serving is not failed: (unhealthy threshold +
// healthy threshold) x interval + timeout, at most 3600 s.
func (tg TargetGroup) AllowTrafficBound() time.Duration {
	d := time.Duration(tg.UnhealthyThreshold+tg.HealthyThreshold)*tg.Interval + tg.Timeout
	return min(d, 3600*time.Second)
}

// MarkBad is the runtime command that lists server in the bad release's map (or takes it out),
// from the moment it installs the bad release to the moment it installs another.
func (h HAProxy) MarkBad(server string, bad bool) string {
	if bad {
		return fmt.Sprintf("add map %s %s 1", h.BadRelease, server)
	}
	return fmt.Sprintf("del map %s %s", h.BadRelease, server)
}

// Deregister is the runtime command of BlockTraffic: the server gets no new requests and its
// in-flight ones may finish (ELB user guide, "Deregistration delay": the load balancer stops
// sending requests to a deregistering target). After the deregistration delay, Drained ends it.
func (h HAProxy) Deregister(server string) string {
	return fmt.Sprintf("set server targets/%s state drain", server)
}

// Drained ends a deregistration when the delay has passed: remaining connections are closed
// (the probe's with the target's), as the ALB closes them when the deregistration delay ends
// ("If a deregistering target terminates the connection before the deregistration delay
// elapses, the client receives a 500-level error response", ELB user guide, "Deregistration
// delay"; the Classic Load Balancer's guide: "the load balancer forcibly closes connections to
// the de-registering instance").
func (h HAProxy) Drained(server string) []string {
	return []string{
		fmt.Sprintf("set server targets/%s state maint", server),
		fmt.Sprintf("shutdown sessions server targets/%s", server),
		fmt.Sprintf("shutdown sessions server probes/%s", server),
	}
}
