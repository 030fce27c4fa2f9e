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
	if d.BindPassword == "" && d.BindPasswordFile != "" && !d.BindPasswordFileInsecurePerms {
		if msg := looseSecretFile(d.BindPasswordFile, field+".bind_password_file_insecure_perms"); msg != "" {
			add(field+".bind_password_file", msg)
			return
		}
	}
	if s, ok := resolve(field, "bind_password", d.BindPassword, d.BindPasswordFile, add); ok {
		d.password = s
	}
}

// resolve reads a secret from an ${ENV} reference (value) or a file, reporting problems under
// field.name and field.name_file. ok is false when neither is set or a problem was reported.
func resolve(field, name, value, file string, add func(field, msg string)) (Secret, bool) {
	switch {
	case value != "" && file != "":
		add(field+"."+name, fmt.Sprintf("set %s or %s_file, not both", name, name))
	case value != "":
		m := envRef.FindStringSubmatch(value)
		if m == nil {
			add(field+"."+name, fmt.Sprintf("secrets are never written in the file: use ${ENV_VAR} or %s_file", name))
			return Secret{}, false
		}
		env := m[1] + m[2]
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			add(field+"."+name, fmt.Sprintf("environment variable %s is not set or empty", env))
			return Secret{}, false
		}
		return NewSecret(v), true
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			add(field+"."+name+"_file", fmt.Sprintf("cannot read: %v", err))
			return Secret{}, false
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			add(field+"."+name+"_file", file+" is empty")
			return Secret{}, false
		}
		return NewSecret(v), true
	}
	return Secret{}, false
}
