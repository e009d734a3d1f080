package sandbox

import "testing"

// HAProxy 2.6's "show servers state" for a backend, as it answered right after Register: i-1's
// health counter is at zero, i-2 has passed one check since.
const serversState = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 targets 1 i-1 10.77.1.2 0 4 1 1 0 1 0 0 6 0 0 0 - 80 - 0 0 - - 0
3 targets 2 i-2 10.77.2.2 0 4 1 1 0 6 1 1 6 0 0 0 - 80 - 0 0 - - 0

`

func TestCheckHealth(t *testing.T) {
	for instance, want := range map[string]int{"i-1": 0, "i-2": 1} {
		if got, err := checkHealth(serversState, instance); err != nil || got != want {
			t.Errorf("%s: %d, %v; want %d", instance, got, err, want)
		}
	}
	if _, err := checkHealth(serversState, "i-3"); err == nil {
		t.Error("a target HAProxy does not have was found")
	}
	if _, err := checkHealth("1\n# be_id be_name\n", "i-1"); err == nil {
		t.Error("a state without the health column was read")
	}
}

// HAProxy's abstract runtime socket is dialled with its name padded to the whole of sun_path;
// a path is dialled as it is.
func TestDialAddress(t *testing.T) {
	got := dialAddress("abns@rehearsal-rollout")
	if len(got) != 108 || got[:23] != "@rehearsal-rollout\x00\x00\x00\x00\x00" {
		t.Errorf("%q (%d bytes)", got, len(got))
	}
	if got := dialAddress("/run/haproxy.sock"); got != "/run/haproxy.sock" {
		t.Errorf("a path became %q", got)
	}
}
