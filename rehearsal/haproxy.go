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
	Address string // host:port
}

// HAProxy is the rehearsal's load balancer, a real HAProxy standing in for the Application Load
// Balancer: its health check and drain follow the template's target group, on a clock Scale times
// faster, so a rehearsal takes seconds where the fleet takes minutes.
type HAProxy struct {
	TargetGroup TargetGroup
	// Scale divides every duration of the target group: 10 makes a 10 s interval 1 s.
	Scale float64
	// Listen is the frontend's address, AdminSocket the runtime API's socket (register,
	// deregister).
	Listen, AdminSocket string
	Servers             []Server
}

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
	tg := h.TargetGroup
	expect, err := expectStatus(tg.HealthyHTTPCodes)
	if err != nil {
		return "", err
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%dms", h.Scaled(d).Milliseconds()) }
	var b strings.Builder
	fmt.Fprintf(&b, `# Rendered by package rehearsal from the fleet's target group, durations divided by %g.
global
    stats socket %s mode 600 level admin
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
`, h.Scale, h.AdminSocket, h.Listen, tg.HealthCheckPath, expect, ms(tg.Timeout),
		ms(tg.Interval), ms(tg.Interval), ms(tg.Interval), tg.HealthyThreshold, tg.UnhealthyThreshold)
	for _, s := range h.Servers {
		fmt.Fprintf(&b, "    server %s %s check port %d disabled\n", s.Name, s.Address, tg.HealthCheckPort)
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

// Register is the runtime command of AllowTraffic: the server takes traffic once its health
// check has passed HealthyThreshold times in a row (ELB user guide, "Health checks for your
// target groups": a newly registered target is "initial" until it passes the health check).
// HAProxy keeps checking a server in maintenance and would put it in service at once, so its
// health is set down in the same command line, which HAProxy runs before anything else: from
// there it needs rise (HealthyThreshold) checks, as a new target does.
func (h HAProxy) Register(server string) string {
	return fmt.Sprintf("set server targets/%[1]s state ready; set server targets/%[1]s health down", server)
}

// Deregister is the runtime command of BlockTraffic: the server gets no new requests and its
// in-flight ones may finish (ELB user guide, "Deregistration delay": the load balancer stops
// sending requests to a deregistering target). After the deregistration delay, Drained ends it.
func (h HAProxy) Deregister(server string) string {
	return fmt.Sprintf("set server targets/%s state drain", server)
}

// Drained ends a deregistration when the delay has passed: remaining connections are closed, as
// the ALB closes them when the deregistration delay ends.
func (h HAProxy) Drained(server string) []string {
	return []string{
		fmt.Sprintf("set server targets/%s state maint", server),
		fmt.Sprintf("shutdown sessions server targets/%s", server),
	}
}
