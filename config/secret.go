package config

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
)

// Secret holds a password. It never prints: String, GoString, Format, LogValue and MarshalText
// redact it, and the value sits behind a closure, so even reflection (fmt's fallback for bad
// verbs, %w in Sprintf) shows only a function address.
type Secret struct{ reveal func() string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{reveal: func() string { return v }} }

// Reveal returns the secret for the one place that needs it (the LDAP bind).
func (s Secret) Reveal() string {
	if s.reveal == nil {
		return ""
	}
	return s.reveal()
}

// IsZero reports whether no secret was configured.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

func (s Secret) String() string   { return "REDACTED" }
func (s Secret) GoString() string { return "REDACTED" }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// Format makes every fmt verb print REDACTED.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "REDACTED") }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte("REDACTED"), nil }

// Password returns the resolved bind password.
func (d *Directory) Password() Secret { return d.password }

// SetPassword sets the bind password directly (tests and embedding programs).
func (d *Directory) SetPassword(p string) { d.password = NewSecret(p) }

var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$|^\$([A-Za-z_][A-Za-z0-9_]*)$`)

// resolveSecret turns bind_password (${ENV} only) or bind_password_file into the secret.
func (d *Directory) resolveSecret(field string, add func(field, msg string)) {
	switch {
	case d.BindPassword != "" && d.BindPasswordFile != "":
		add(field+".bind_password", "set bind_password or bind_password_file, not both")
	case d.BindPassword != "":
		m := envRef.FindStringSubmatch(d.BindPassword)
		if m == nil {
			add(field+".bind_password", "secrets are never written in the file: use ${ENV_VAR} or bind_password_file")
			return
		}
		name := m[1] + m[2]
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			add(field+".bind_password", fmt.Sprintf("environment variable %s is not set or empty", name))
			return
		}
		d.SetPassword(v)
	case d.BindPasswordFile != "":
		b, err := os.ReadFile(d.BindPasswordFile)
		if err != nil {
			add(field+".bind_password_file", fmt.Sprintf("cannot read: %v", err))
			return
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			add(field+".bind_password_file", d.BindPasswordFile+" is empty")
			return
		}
		d.SetPassword(v)
	}
}
