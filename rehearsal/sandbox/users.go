package sandbox

import (
	"os"
	"path/filepath"
	"strings"
)

// amazonLinuxUsers are the users a revision's runas may name on an Amazon Linux instance of the
// fleet, with Amazon Linux's ids ("List of AL2023 Reserved Users": ec2-user 1000, apache 48,
// nobody 65534), home directories and login shells. The agent runs a runas script with
// `su USER -c SCRIPT`, so the shell decides: ec2-user's is bash, while apache's (the httpd
// package creates it with -s /sbin/nologin) and nobody's are nologin, and a hook run as either
// fails. Each instance's /etc/passwd, group and shadow are the machine's with these in place of
// any entry of the same name or id. The shells are named where every Debian has them, with a
// merged /usr or not (Amazon Linux's passwd says /sbin/nologin, a link to /usr/sbin/nologin
// there).
var amazonLinuxUsers = []struct {
	name, id, home, shell string
}{
	{"ec2-user", "1000", "/home/ec2-user", "/bin/bash"},
	{"apache", "48", "/usr/share/httpd", "/usr/sbin/nologin"},
	{"nobody", "65534", "/", "/usr/sbin/nologin"},
}

// usersLayout writes the instance's passwd, group, shadow and gshadow into its /etc upper layer
// (etc), the machine's with Amazon Linux's users in place.
func usersLayout(etc string) error {
	type db struct {
		file string
		mode os.FileMode
		line func(name, id, home, shell string) string
	}
	for _, d := range []db{
		{"passwd", 0o644, func(n, id, h, sh string) string { return n + ":x:" + id + ":" + id + "::" + h + ":" + sh }},
		{"group", 0o644, func(n, id, _, _ string) string { return n + ":x:" + id + ":" }},
		// A locked password ("!!", as useradd leaves it): su from root needs none.
		{"shadow", 0o640, func(n, _, _, _ string) string { return n + ":!!:19000:0:99999:7:::" }},
		{"gshadow", 0o640, func(n, _, _, _ string) string { return n + ":!::" }},
	} {
		data, err := os.ReadFile(filepath.Join("/etc", d.file))
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		var kept []string
		for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
			fields := strings.Split(line, ":")
			if line == "" || replaced(fields, d.file) {
				continue
			}
			kept = append(kept, line)
		}
		for _, u := range amazonLinuxUsers {
			kept = append(kept, d.line(u.name, u.id, u.home, u.shell))
		}
		if err := writeFile(filepath.Join(etc, d.file), strings.Join(kept, "\n")+"\n", d.mode); err != nil {
			return err
		}
	}
	return nil
}

// replaced reports whether a line of an account file names one of Amazon Linux's users, or (in
// passwd and group) takes one of their ids.
func replaced(fields []string, file string) bool {
	for _, u := range amazonLinuxUsers {
		if fields[0] == u.name {
			return true
		}
		if (file == "passwd" || file == "group") && len(fields) > 2 && fields[2] == u.id {
			return true
		}
	}
	return false
}
