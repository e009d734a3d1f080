package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The instance's accounts are Amazon Linux's where a revision's runas may name them: ec2-user
// logs in with bash, apache and nobody have nologin shells (so su fails for them, as on an
// instance); the machine's own entries of the same names or ids are replaced, the rest kept.
func TestUsersLayout(t *testing.T) {
	etc := t.TempDir()
	if err := usersLayout(etc); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []string {
		data, err := os.ReadFile(filepath.Join(etc, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(data)), "\n")
	}
	passwd := read("passwd")
	byName, byID := map[string][]string{}, map[string]int{}
	for _, line := range passwd {
		f := strings.Split(line, ":")
		if len(f) != 7 {
			t.Fatalf("passwd line %q", line)
		}
		byName[f[0]] = f
		byID[f[2]]++
	}
	for name, want := range map[string][]string{
		"ec2-user": {"ec2-user", "x", "1000", "1000", "", "/home/ec2-user", "/bin/bash"},
		"apache":   {"apache", "x", "48", "48", "", "/usr/share/httpd", "/usr/sbin/nologin"},
		"nobody":   {"nobody", "x", "65534", "65534", "", "/", "/usr/sbin/nologin"},
	} {
		if got := strings.Join(byName[name], ":"); got != strings.Join(want, ":") {
			t.Errorf("%s: %q, want %q", name, got, strings.Join(want, ":"))
		}
		if byID[want[2]] != 1 {
			t.Errorf("uid %s is held by %d accounts", want[2], byID[want[2]])
		}
	}
	if byName["root"] == nil {
		t.Error("root is gone")
	}
	for _, file := range []string{"group", "shadow", "gshadow"} {
		names := map[string]int{}
		for _, line := range read(file) {
			names[strings.Split(line, ":")[0]]++
		}
		for _, u := range amazonLinuxUsers {
			if names[u.name] != 1 {
				t.Errorf("%s has %d entries for %s", file, names[u.name], u.name)
			}
		}
	}
	if info, err := os.Stat(filepath.Join(etc, "shadow")); err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("shadow: %v, mode %v; want 0640", err, info.Mode().Perm())
	}
}

// The modules file loads what Amazon Linux's loads and Debian's apache2 can, and says why it
// leaves the others out.
func TestModulesConf(t *testing.T) {
	got := modulesConf("00-base.conf", []string{"rewrite", "log_config", "systemd"}, debianBuiltIn,
		func(so string) bool { return so == "mod_rewrite.so" })
	for _, want := range []string{"LoadModule rewrite_module modules/mod_rewrite.so\n",
		"# log_config_module: built into Debian's apache2\n", "# systemd_module: Debian's apache2 has no mod_systemd.so\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
}
