package sink

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/vigil-sensor/vigil/internal/config"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/rules"
)

// The types of sink.
const (
	TypeStdout  = "stdout"
	TypeFile    = "file"
	TypeHTTP    = "http"
	TypeSyslog  = "syslog"
	TypeProgram = "program"
)

var types = []string{TypeStdout, TypeFile, TypeHTTP, TypeSyslog, TypeProgram}

// Defaults of the sinks' own keys.
const (
	DefaultHTTPTimeout   = 5 * time.Second
	DefaultHTTPRetries   = 3
	DefaultBackoff       = 200 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	DefaultSyslogTimeout = 5 * time.Second
)

// Config is one sink of the configuration file's outputs list. Its keys are
// the common ones below and those of its type; a key of another type is an
// error.
type Config struct {
	// Name identifies the sink in metrics and drop records; it defaults to
	// the type, and two sinks of one type need names.
	Name string `yaml:"name"`
	// Type is stdout, file, http, syslog or program.
	Type string `yaml:"-"`
	// Format is the shape of the alert lines (falco, ocsf, ecs or cef).
	Format output.Format `yaml:"format"`
	// MinPriority leaves out records less severe than it; zero sends all.
	MinPriority rules.Priority `yaml:"-"`
	// Events sends event records (vigil run --events) to the sink too; the
	// default is true for stdout and false for the others. It needs the
	// falco format, whose family event records belong to.
	Events *bool `yaml:"events"`
	// Queue and QueueBytes bound the sink's queue (records, bytes); zero
	// takes the defaults of vigil run's --output-queue flags.
	Queue      int `yaml:"queue"`
	QueueBytes int `yaml:"queue_bytes"`

	File    FileConfig    `yaml:"-"`
	HTTP    HTTPConfig    `yaml:"-"`
	Syslog  SyslogConfig  `yaml:"-"`
	Program ProgramConfig `yaml:"-"`
}

// FileConfig is a file sink: lines appended to Path, which is reopened on
// SIGHUP so that logrotate can move it away.
type FileConfig struct {
	Path string `yaml:"path"`
}

// HTTPConfig is an http sink: each record POSTed to URL as its body, as
// Falco's http_output does, so that falcosidekick takes it.
type HTTPConfig struct {
	URL string `yaml:"url"`
	// Timeout bounds one request; Retries is how many times a failed
	// request (no answer, 5xx, 429) is tried again, Backoff apart,
	// doubling up to MaxBackoff, before the record counts as failed.
	Timeout    time.Duration `yaml:"timeout"`
	Retries    *int          `yaml:"retries"`
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// CACert is a PEM file of the CAs to trust instead of the system's;
	// ClientCert and ClientKey are PEM files of a client certificate for
	// mutual TLS; InsecureSkipVerify trusts any server certificate.
	CACert             string `yaml:"ca_cert"`
	ClientCert         string `yaml:"client_cert"`
	ClientKey          string `yaml:"client_key"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	// Headers are added to every request (an intake's token, say).
	Headers   map[string]string `yaml:"headers"`
	UserAgent string            `yaml:"user_agent"`
}

// SyslogConfig is a syslog sink: RFC 5424 messages over UDP (one per
// datagram), TCP (octet-counting framing, RFC 6587) or a unix socket
// (/dev/log).
type SyslogConfig struct {
	Network  string `yaml:"network"`
	Address  string `yaml:"address"`
	Facility string `yaml:"facility"`
	// Timeout bounds connecting and one write; Backoff and MaxBackoff space
	// reconnections.
	Timeout    time.Duration `yaml:"timeout"`
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// ProgramConfig is a program sink: Command (argv, no shell) gets one record
// per line on its stdin, and is started again, Backoff apart doubling up to
// MaxBackoff, whenever it exits.
type ProgramConfig struct {
	Command    []string      `yaml:"command"`
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// facilities are the syslog facility codes by name.
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// UnmarshalConfig decodes one item of the outputs list: its type first,
// then the common keys and its type's, checking each value where it is.
func (c *Config) UnmarshalConfig(n config.Node) error {
	tn, ok := n.Key("type")
	if !ok {
		return n.Errorf("needs a type (one of %s)", strings.Join(types, ", "))
	}
	tn.Decode(&c.Type)
	var own any
	switch c.Type {
	case TypeStdout:
	case TypeFile:
		own = &c.File
	case TypeHTTP:
		own = &c.HTTP
	case TypeSyslog:
		own = &c.Syslog
	case TypeProgram:
		own = &c.Program
	default:
		return tn.Errorf("unknown type %q (want one of %s)", c.Type, strings.Join(types, ", "))
	}
	dsts := []any{c}
	if own != nil {
		dsts = append(dsts, own)
	}
	n.DecodeFields([]string{"type", "min_priority"}, dsts...)
	if pn, ok := n.Key("min_priority"); ok {
		var s string
		pn.Decode(&s)
		if p, err := rules.ParsePriority(s); err != nil {
			pn.Errorf("%v", err)
		} else {
			c.MinPriority = p
		}
	}
	return c.check(n)
}

// check validates what depends on the type and on several keys, reporting
// each problem at the key at fault (or the item, for a missing key).
func (c *Config) check(n config.Node) error {
	var first error
	fail := func(key, format string, args ...any) {
		at := n
		if kn, ok := n.Key(key); ok {
			at = kn
		} else {
			format = key + ": " + format
		}
		if err := at.Errorf(format, args...); first == nil {
			first = err
		}
	}
	if c.Name != "" && !validName.MatchString(c.Name) {
		fail("name", "%q: use letters, digits, '_', '.' and '-'", c.Name)
	}
	if c.Events != nil && *c.Events && c.Format != output.FormatFalco {
		fail("events", "event records need format falco, not %s", c.Format)
	}
	if c.Queue < 0 || c.QueueBytes < 0 {
		fail("queue", "queue and queue_bytes must be positive")
	}
	switch c.Type {
	case TypeFile:
		if c.File.Path == "" {
			fail("path", "a file output needs a path")
		}
	case TypeHTTP:
		h := &c.HTTP
		u, err := url.Parse(h.URL)
		switch {
		case h.URL == "":
			fail("url", "an http output needs a url")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			fail("url", "%q is not an http:// or https:// URL", h.URL)
		case u.Scheme == "http" && (h.CACert != "" || h.ClientCert != "" || h.InsecureSkipVerify):
			fail("url", "TLS settings need an https:// URL")
		}
		if (h.ClientCert == "") != (h.ClientKey == "") {
			fail("client_cert", "client_cert and client_key go together")
		}
		if h.Timeout < 0 || h.Backoff < 0 || h.MaxBackoff < 0 {
			fail("timeout", "timeout, backoff and max_backoff must not be negative")
		}
		if h.Retries != nil && *h.Retries < 0 {
			fail("retries", "must not be negative")
		}
	case TypeSyslog:
		s := &c.Syslog
		switch s.Network {
		case "", "udp", "tcp", "unix":
		default:
			fail("network", "%q: want udp, tcp or unix", s.Network)
		}
		if s.Address == "" {
			fail("address", "a syslog output needs an address (host:port, or a socket path for unix)")
		}
		if _, ok := facilities[s.Facility]; s.Facility != "" && !ok {
			fail("facility", "unknown facility %q", s.Facility)
		}
		if s.Timeout < 0 || s.Backoff < 0 || s.MaxBackoff < 0 {
			fail("timeout", "timeout, backoff and max_backoff must not be negative")
		}
	case TypeProgram:
		if len(c.Program.Command) == 0 || c.Program.Command[0] == "" {
			fail("command", "a program output needs a command (a list: program and arguments)")
		}
		if c.Program.Backoff < 0 || c.Program.MaxBackoff < 0 {
			fail("backoff", "backoff and max_backoff must not be negative")
		}
	}
	return first
}

// Configs is the outputs list; it checks what concerns several sinks (names
// must be unique, one stdout).
type Configs []Config

// UnmarshalConfig decodes the outputs list.
func (cs *Configs) UnmarshalConfig(n config.Node) error {
	var items []Config
	n.Decode(&items)
	*cs = items
	seen := map[string]bool{}
	stdout := false
	for i := range items {
		c := &items[i]
		at, _ := n.Item(i)
		if c.Type == TypeStdout {
			if stdout {
				return at.Errorf("a second stdout output")
			}
			stdout = true
		}
		name := c.SinkName()
		if seen[name] {
			if c.Name == "" {
				return at.Errorf("a second %s output needs a name of its own", c.Type)
			}
			return at.Errorf("a second output named %q", name)
		}
		seen[name] = true
	}
	return nil
}

// SinkName is the sink's name: Name, or its type.
func (c *Config) SinkName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Type
}

// events reports whether event records go to the sink.
func (c *Config) events() bool {
	if c.Events != nil {
		return *c.Events
	}
	return c.Type == TypeStdout
}

// equal reports whether two configurations make the same sink, so that a
// reload keeps it running.
func (c *Config) equal(o *Config) bool { return reflect.DeepEqual(c, o) }

// String describes the sink for logs: its name, type and destination.
func (c *Config) String() string {
	dest := ""
	switch c.Type {
	case TypeFile:
		dest = c.File.Path
	case TypeHTTP:
		dest = c.HTTP.URL
	case TypeSyslog:
		dest = c.Syslog.Network + "://" + c.Syslog.Address
	case TypeProgram:
		dest = strings.Join(c.Program.Command, " ")
	}
	if dest == "" {
		return fmt.Sprintf("%s (%s)", c.SinkName(), c.Type)
	}
	return fmt.Sprintf("%s (%s %s)", c.SinkName(), c.Type, dest)
}

// Check reports what would keep cfgs' sinks from starting, without
// starting them: TLS files that do not load, a program not found, a file
// whose directory is missing.
func Check(cfgs []Config) error {
	var errs []error
	for i := range cfgs {
		c := &cfgs[i]
		var err error
		switch c.Type {
		case TypeFile:
			if fi, statErr := os.Stat(filepath.Dir(c.File.Path)); statErr != nil {
				err = statErr
			} else if !fi.IsDir() {
				err = fmt.Errorf("%s is not a directory", filepath.Dir(c.File.Path))
			}
		case TypeHTTP:
			_, err = tlsConfig(&c.HTTP)
		case TypeProgram:
			_, err = exec.LookPath(c.Program.Command[0])
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("output %s: %w", c.String(), err))
		}
	}
	return errors.Join(errs...)
}
