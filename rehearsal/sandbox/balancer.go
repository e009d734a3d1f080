package sandbox

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/example/codedeploy-fleet/rehearsal"
)

// Balancer is a running HAProxy in front of the fleet, driven through its runtime API as
// CodeDeploy's traffic control drives the target group.
type Balancer struct {
	Config rehearsal.HAProxy
	cmd    *exec.Cmd
	done   chan struct{}
	stderr lockedBuffer
	// Events, when set, hears about target state changes (for the report's lanes).
	Events func(instance, change string)
	// initial are the targets registered that have not yet passed a health check: the ALB's
	// "initial" state, which UnHealthyHostCount does not count.
	mu      sync.Mutex
	initial map[string]bool
}

// StartBalancer writes the configuration into dir and starts HAProxy on it.
func StartBalancer(dir string, cfg rehearsal.HAProxy) (*Balancer, error) {
	text, err := cfg.Config()
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		return nil, err
	}
	b := &Balancer{Config: cfg, done: make(chan struct{})}
	// -db: stay in the foreground, so that the process is ours to end; -W is not used, so
	// there is no master to outlive us.
	b.cmd = exec.Command("haproxy", "-db", "-f", file)
	b.cmd.Stdout, b.cmd.Stderr = &b.stderr, &b.stderr
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := spawn.start(b.cmd); err != nil {
		return nil, fmt.Errorf("starting haproxy: %w", err)
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := b.command("show info"); err == nil {
			return b, nil
		}
		select {
		case <-b.done:
			return nil, fmt.Errorf("haproxy exited: %s", strings.TrimSpace(b.stderr.String()))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Stop()
			return nil, fmt.Errorf("haproxy did not open its runtime API within 5 s: %s", strings.TrimSpace(b.stderr.String()))
		}
	}
}

// Stop ends HAProxy.
func (b *Balancer) Stop() {
	if b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}

// command sends one command to HAProxy's runtime API and returns its answer. A connection that
// fails (HAProxy busy with several instances' polls at once) is tried again, three times at most;
// an answer HAProxy gives is never retried.
func (b *Balancer) command(cmd string) (answer string, err error) {
	for attempt := 0; attempt < 3; attempt++ {
		var sent bool
		answer, sent, err = b.send(cmd)
		if err == nil || sent {
			return answer, err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return answer, err
}

// send is one attempt of command; sent reports that HAProxy received the command.
func (b *Balancer) send(cmd string) (string, bool, error) {
	conn, err := net.DialTimeout("unix", dialAddress(b.Config.AdminSocket), time.Second)
	if err != nil {
		return "", false, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", false, err
	}
	out, err := io.ReadAll(conn)
	if err != nil {
		// A read-only command may be asked again; a change may have been made.
		return "", !strings.HasPrefix(cmd, "show"), err
	}
	answer := strings.TrimSpace(string(out))
	if answer != "" && !strings.HasPrefix(cmd, "show") {
		return answer, true, fmt.Errorf("haproxy: %s: %s", cmd, answer)
	}
	return answer, true, nil
}

// dialAddress is where to dial HAProxy's runtime API at its "stats socket" address. HAProxy
// binds an abstract socket ("abns@name") to the whole of sun_path, the name padded with NUL bytes
// (/proc/net/unix shows it so), and the kernel matches abstract names on every byte of that
// length: the dialler pads it too.
func dialAddress(socket string) string {
	name, abstract := strings.CutPrefix(socket, "abns@")
	if !abstract {
		return socket
	}
	const sunPath = 108
	return "@" + name + strings.Repeat("\x00", max(sunPath-1-len(name), 0))
}

// Status is a target's state as HAProxy reports it: UP, DOWN, MAINT, DRAIN, ...
func (b *Balancer) Status(instance string) (string, error) {
	return b.stat(instance, "status")
}

func (b *Balancer) stat(instance, column string) (string, error) {
	targets, err := b.targets(column)
	if err != nil {
		return "", err
	}
	v, ok := targets[instance]
	if !ok {
		return "", fmt.Errorf("haproxy: no target %s", instance)
	}
	return v, nil
}

// targets is one column of HAProxy's stats for every target.
func (b *Balancer) targets(column string) (map[string]string, error) {
	out, err := b.command("show stat")
	if err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# "))).ReadAll()
	if err != nil || len(rows) < 2 {
		return nil, fmt.Errorf("haproxy: unreadable stats: %v", err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	values := map[string]string{}
	for _, r := range rows[1:] {
		if r[col["pxname"]] == "targets" && r[col["svname"]] != "BACKEND" && r[col["svname"]] != "FRONTEND" {
			values[r[col["svname"]]] = r[col[column]]
		}
	}
	return values, nil
}

// Unhealthy counts the registered targets that fail the health check, as the target group's
// UnHealthyHostCount does: not those out of service (deregistered, draining) nor those
// registered that have not yet been checked (ELB user guide, "Health checks for Application
// Load Balancer target groups": a target is "initial" until it passes its first check, and
// "draining" while it deregisters). HAProxy shows a target failing its checks as DOWN, or
// "UP n/m" on its way down; the ALB calls it unhealthy only once it has failed the unhealthy
// threshold, which is when HAProxy says DOWN.
func (b *Balancer) Unhealthy() (int, error) {
	status, err := b.targets("status")
	if err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for name, s := range status {
		if strings.HasPrefix(s, "DOWN") && !b.initial[name] {
			n++
		}
	}
	return n, nil
}

// MarkBad starts or ends the bad release on a target (HAProxy.BadRelease).
func (b *Balancer) MarkBad(instance string, bad bool) error {
	_, err := b.command(b.Config.MarkBad(instance, bad))
	if err != nil && !bad && strings.Contains(err.Error(), "not found") {
		return nil
	}
	return err
}

func (b *Balancer) setInitial(instance string, initial bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.initial == nil {
		b.initial = map[string]bool{}
	}
	b.initial[instance] = initial
}

func (b *Balancer) tell(instance, change string) {
	if b.Events != nil {
		b.Events(instance, change)
	}
}

// Register is AllowTraffic: the target is registered, and put in service as soon as it has
// passed one health check, as the ALB does with a newly registered target (HAProxy.InService).
// A target that passes none within TargetGroup.AllowTrafficBound fails the event.
func (b *Balancer) Register(ctx context.Context, instance string) error {
	b.setInitial(instance, true)
	defer b.setInitial(instance, false)
	if _, err := b.command(b.Config.Register(instance)); err != nil {
		return err
	}
	b.tell(instance, "registered")
	tg := b.Config.TargetGroup
	limit := tg.AllowTrafficBound()
	deadline := time.Now().Add(limit)
	for {
		passed, err := b.passedCheck(instance)
		if err != nil {
			return err
		}
		if passed {
			if _, err := b.command(b.Config.InService(instance)); err != nil {
				return err
			}
			b.tell(instance, "healthy")
			return nil
		}
		if time.Now().After(deadline) {
			status, _ := b.Status(instance)
			return fmt.Errorf("AllowTraffic: %s passed no health check (%s on port %d) within %v (status %s); CodeDeploy documents no limit here but the hour of any lifecycle event, and the rehearsal's is the template's (unhealthy + healthy threshold) x interval + timeout",
				instance, tg.HealthCheckPath, tg.HealthCheckPort, limit, status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(b.Config.Scaled(tg.Interval) / 5):
		}
	}
}

// passedCheck reports whether the target has passed a health check since it was registered.
func (b *Balancer) passedCheck(instance string) (bool, error) {
	out, err := b.command("show servers state targets")
	if err != nil {
		return false, err
	}
	health, err := checkHealth(out, instance)
	return health > 0, err
}

// checkHealth reads a server's health counter from HAProxy's "show servers state" (its
// srv_check_health column): the passing checks in a row it has counted, which Register sets to
// zero.
func checkHealth(state, instance string) (int, error) {
	lines := strings.Split(state, "\n")
	col := map[string]int{}
	for _, l := range lines {
		if h, ok := strings.CutPrefix(l, "# "); ok {
			for i, name := range strings.Fields(h) {
				col[name] = i
			}
			break
		}
	}
	name, okName := col["srv_name"]
	health, okHealth := col["srv_check_health"]
	if !okName || !okHealth {
		return 0, fmt.Errorf("haproxy: unreadable servers state: %q", state)
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > health && !strings.HasPrefix(l, "#") && f[name] == instance {
			return strconv.Atoi(f[health])
		}
	}
	return 0, fmt.Errorf("haproxy: no target %s in the servers state", instance)
}

// Deregister is BlockTraffic, and Auto Scaling's deregistration before a termination: no new
// requests, the deregistration delay for in-flight ones, then the remaining connections are
// closed (ELB user guide, "Deregistration delay"). A target already out of service returns at
// once, as BlockTraffic does on an instance Auto Scaling has already deregistered.
func (b *Balancer) Deregister(ctx context.Context, instance string) error {
	return b.DeregisterAfter(ctx, instance, b.Config.TargetGroup.DeregistrationDelay)
}

// DeregisterAfter is Deregister with another deregistration delay (the controls' short one).
func (b *Balancer) DeregisterAfter(ctx context.Context, instance string, delay time.Duration) error {
	status, err := b.Status(instance)
	if err != nil {
		return err
	}
	if status == "MAINT" {
		return nil
	}
	if _, err := b.command(b.Config.Deregister(instance)); err != nil {
		return err
	}
	b.tell(instance, "draining")
	select {
	case <-ctx.Done():
	case <-time.After(b.Config.Scaled(delay)):
	}
	for _, c := range b.Config.Drained(instance) {
		if _, err := b.command(c); err != nil {
			return err
		}
	}
	b.tell(instance, "deregistered")
	return ctx.Err()
}
