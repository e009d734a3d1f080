package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The instance's web server is Debian's apache2 laid out as Amazon Linux's httpd package lays
// out httpd: /etc/httpd/conf/httpd.conf includes conf.modules.d/*.conf, then conf.d/*.conf, runs
// as apache, serves /var/www/html and logs to /var/log/httpd through the logs link, so that a
// revision that drops a file into conf.d (a virtual host, a rewrite rule, a proxy to an app
// server it starts) behaves as on an instance.

// debianModules is where Debian's apache2 keeps its loadable modules; /etc/httpd/modules links
// there, as Amazon Linux's links to /usr/lib64/httpd/modules.
const debianModules = "/usr/lib/apache2/modules"

// alModules are the modules Amazon Linux's httpd loads by default, by conf.modules.d file, as
// the httpd package (built from Fedora's) ships them; the MPM is event, the package's default.
// 00-optional.conf loads nothing by default. A module Debian's apache2 has built in
// (log_config, logio, unixd, version, watchdog) or lacks (systemd: mod_systemd is a Fedora
// patch) is left out when the file is written (modulesConf).
var alModules = []struct {
	file    string
	modules []string
}{
	{"00-base.conf", []string{"access_compat", "actions", "alias", "allowmethods", "auth_basic", "auth_digest",
		"authn_anon", "authn_core", "authn_dbd", "authn_dbm", "authn_file", "authn_socache", "authnz_fcgi",
		"authz_core", "authz_dbd", "authz_dbm", "authz_groupfile", "authz_host", "authz_owner", "authz_user",
		"autoindex", "brotli", "cache", "cache_disk", "cache_socache", "data", "dbd", "deflate", "dir", "dumpio",
		"echo", "env", "expires", "ext_filter", "filter", "headers", "include", "info", "log_config", "logio",
		"macro", "mime_magic", "mime", "negotiation", "remoteip", "reqtimeout", "request", "rewrite", "setenvif",
		"slotmem_plain", "slotmem_shm", "socache_dbm", "socache_memcache", "socache_redis", "socache_shmcb",
		"status", "substitute", "suexec", "unique_id", "unixd", "userdir", "version", "vhost_alias", "watchdog"}},
	{"00-dav.conf", []string{"dav", "dav_fs", "dav_lock"}},
	{"00-lua.conf", []string{"lua"}},
	{"00-mpm.conf", []string{"mpm_event"}},
	{"00-proxy.conf", []string{"proxy", "lbmethod_bybusyness", "lbmethod_byrequests", "lbmethod_bytraffic",
		"lbmethod_heartbeat", "proxy_ajp", "proxy_balancer", "proxy_connect", "proxy_express", "proxy_fcgi",
		"proxy_fdpass", "proxy_ftp", "proxy_hcheck", "proxy_http", "proxy_scgi", "proxy_uwsgi", "proxy_wstunnel"}},
	{"00-systemd.conf", []string{"systemd"}},
	{"01-cgi.conf", []string{"cgid"}},
	{"10-h2.conf", []string{"http2"}},
	{"10-proxy_h2.conf", []string{"proxy_http2"}},
}

// modulesConf is one conf.modules.d file: a LoadModule line for each module Debian's apache2
// can load, and a comment for each it cannot.
func modulesConf(file string, modules []string, builtIn map[string]bool, available func(string) bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Rendered by the rehearsal: the modules Amazon Linux's %s loads, on Debian's apache2.\n", file)
	for _, m := range modules {
		so := "mod_" + m + ".so"
		switch {
		case builtIn[m]:
			fmt.Fprintf(&b, "# %s_module: built into Debian's apache2\n", m)
		case !available(so):
			fmt.Fprintf(&b, "# %s_module: Debian's apache2 has no %s\n", m, so)
		default:
			fmt.Fprintf(&b, "LoadModule %s_module modules/%s\n", m, so)
		}
	}
	return b.String()
}

// debianBuiltIn are the modules compiled into Debian's apache2 (apache2 -l), which a LoadModule
// line would make fail ("module ... is built-in and can't be loaded").
var debianBuiltIn = map[string]bool{"log_config": true, "logio": true, "unixd": true, "version": true, "watchdog": true}

// httpdConf is /etc/httpd/conf/httpd.conf as Amazon Linux ships it, in substance: the same
// directives and includes, without its comments. PidFile and DefaultRuntimeDir are httpd's
// compiled-in defaults there (run/ under the server root), which Debian's build sets elsewhere.
const httpdConf = `# Rendered by the rehearsal: Amazon Linux's /etc/httpd/conf/httpd.conf on Debian's apache2.
ServerRoot "/etc/httpd"
Listen 80
Include conf.modules.d/*.conf
User apache
Group apache
ServerAdmin root@localhost
ServerName %[1]s
PidFile /run/httpd/httpd.pid
DefaultRuntimeDir /run/httpd
<Directory />
    AllowOverride none
    Require all denied
</Directory>
DocumentRoot "/var/www/html"
<Directory "/var/www">
    AllowOverride None
    Require all granted
</Directory>
<Directory "/var/www/html">
    Options Indexes FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>
<IfModule dir_module>
    DirectoryIndex index.html
</IfModule>
<Files ".ht*">
    Require all denied
</Files>
ErrorLog "logs/error_log"
LogLevel warn
<IfModule log_config_module>
    LogFormat "%%h %%l %%u %%t \"%%r\" %%>s %%b \"%%{Referer}i\" \"%%{User-Agent}i\"" combined
    LogFormat "%%h %%l %%u %%t \"%%r\" %%>s %%b" common
    CustomLog "logs/access_log" combined
</IfModule>
<IfModule alias_module>
    ScriptAlias /cgi-bin/ "/var/www/cgi-bin/"
</IfModule>
<Directory "/var/www/cgi-bin">
    AllowOverride None
    Options None
    Require all granted
</Directory>
<IfModule mime_module>
    TypesConfig /etc/mime.types
    AddType application/x-compress .Z
    AddType application/x-gzip .gz .tgz
    AddType text/html .shtml
    AddOutputFilter INCLUDES .shtml
</IfModule>
AddDefaultCharset UTF-8
<IfModule mime_magic_module>
    MIMEMagicFile conf/magic
</IfModule>
EnableSendfile on
IncludeOptional conf.d/*.conf
`

// envvars is what Debian's apachectl reads: it starts the instance's httpd through its
// Amazon Linux name, so that scripts that look for httpd processes find them.
const envvars = `# Rendered by the rehearsal for Debian's apachectl: httpd as Amazon Linux lays it out.
export APACHE_HTTPD=/usr/sbin/httpd
export APACHE_RUN_USER=apache
export APACHE_RUN_GROUP=apache
export APACHE_PID_FILE=/run/httpd/httpd.pid
export APACHE_RUN_DIR=/run/httpd
export APACHE_LOCK_DIR=/run/lock/httpd
export APACHE_LOG_DIR=/var/log/httpd
export LANG=C
`

// httpdWrapper is /usr/sbin/httpd: Debian's apache2 with Amazon Linux's server root and
// configuration file, run through a link named httpd, so that its processes are called httpd
// (pgrep -x httpd) and `httpd -t` checks /etc/httpd/conf/httpd.conf as on an instance.
const httpdWrapper = `#!/bin/sh
# Rendered by the rehearsal: Amazon Linux's httpd is Debian's apache2 with /etc/httpd.
exec /opt/rehearsal/bin/httpd -d /etc/httpd -f conf/httpd.conf "$@"
`

// httpdLayout writes the web server's files into the instance's /etc and /usr upper layers
// (etc and usr, before they are mounted).
func httpdLayout(etc, usr, hostname string) error {
	available := func(so string) bool {
		_, err := os.Stat(filepath.Join(debianModules, so))
		return err == nil
	}
	files := map[string]string{
		"httpd/conf/httpd.conf": fmt.Sprintf(httpdConf, hostname),
		"apache2/envvars":       envvars,
	}
	for _, f := range alModules {
		files["httpd/conf.modules.d/"+f.file] = modulesConf(f.file, f.modules, debianBuiltIn, available)
	}
	for name, content := range files {
		if err := writeFile(filepath.Join(etc, name), content, 0o644); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(etc, "httpd/conf.d"), 0o755); err != nil {
		return err
	}
	for link, target := range map[string]string{
		"httpd/modules":    debianModules,
		"httpd/logs":       "/var/log/httpd",
		"httpd/run":        "/run/httpd",
		"httpd/conf/magic": "/etc/apache2/magic",
	} {
		if err := os.Symlink(target, filepath.Join(etc, link)); err != nil {
			return err
		}
	}
	return writeFile(filepath.Join(usr, "sbin/httpd"), httpdWrapper, 0o755)
}
