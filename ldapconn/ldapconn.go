// Package ldapconn is the one place that opens LDAP connections to Active Directory: it chooses
// the domain controller a run uses (Open: a list in order, or DNS SRV discovery), sets up TLS
// (LDAPS or StartTLS by default, plain LDAP only with the loudly named config option) and signs
// in (a simple bind, or Kerberos through go-ldap's gssapi package). Every command and the
// daemon open their connections here, and nothing else dials.
package ldapconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
)

// Error classes a caller (doctor, the CLI) can tell apart with errors.Is.
var (
	ErrConnect     = errors.New("cannot connect")
	ErrTLS         = errors.New("TLS verification failed")
	ErrCredentials = errors.New("bind refused: wrong DN or password")
	ErrBind        = errors.New("bind failed")
	// ErrKerberos is a Kerberos sign-in that failed before the directory saw it (keytab,
	// principal, realm, KDC, clock): the message names the cause and the fix.
	ErrKerberos = errors.New("kerberos sign-in failed")
)

// TLSConfig builds the client TLS configuration for d: the configured CA bundle (or the system
// roots) and the host name from the URL (or server_name).
func TLSConfig(d *config.Directory) (*tls.Config, error) {
	u, err := url.Parse(d.URL)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", d.URL, err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	if d.ServerName != "" {
		tc.ServerName = d.ServerName
	}
	if d.CAFile != "" {
		pem, err := os.ReadFile(d.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate found", d.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// Dial connects to the domain controller d.URL names, sets up TLS as configured, signs in and
// returns the connection. Errors wrap ErrConnect, ErrTLS, ErrCredentials, ErrKerberos or
// ErrBind. A forest configured with urls or domain is opened with Open, which chooses the DC.
func Dial(ctx context.Context, d *config.Directory) (*ldap.Conn, error) {
	tc, err := TLSConfig(d)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConnect, err)
	}
	if d.URL == "" {
		return nil, fmt.Errorf("%w: no domain controller chosen for %s (use ldapconn.Open)", ErrConnect, d.Where())
	}
	u, _ := url.Parse(d.URL)
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	dialer := &net.Dialer{Timeout: min(timeout, 15*time.Second)}
	if dl, ok := ctx.Deadline(); ok {
		dialer.Deadline = dl
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(dialer)}
	if u.Scheme == "ldaps" {
		opts = append(opts, ldap.DialWithTLSConfig(tc))
	}
	conn, err := ldap.DialURL(withPort(u), opts...)
	if err != nil {
		return nil, ClassifyTLS(fmt.Errorf("%s: %w", d.URL, err))
	}
	conn.SetTimeout(timeout)
	// StartTLS and the bind end when ctx does, not only at the timeout: a directory that
	// accepts the connection and then says nothing must not hold up a cancel.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*ldap.Conn, error) {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrConnect, d.URL, context.Cause(ctx))
		}
		return nil, err
	}
	if u.Scheme == "ldap" && d.StartTLS {
		if err := conn.StartTLS(tc); err != nil {
			return fail(ClassifyTLS(fmt.Errorf("%s: StartTLS: %w", d.URL, err)))
		}
	}
	if err := bind(conn, d, u); err != nil {
		return fail(err)
	}
	if !stop() {
		return fail(nil) // ctx ended as the bind did, and the connection is closed
	}
	return conn, nil
}

// withPort returns the URL with an explicit port: go-ldap mangles an IPv6 host without one.
func withPort(u *url.URL) string {
	if u.Port() != "" {
		return u.String()
	}
	port := "389"
	if u.Scheme == "ldaps" {
		port = "636"
	}
	v := *u
	v.Host = net.JoinHostPort(u.Hostname(), port)
	return v.String()
}

// ClassifyTLS wraps a dial or handshake error in ErrTLS when the certificate was refused,
// else in ErrConnect.
func ClassifyTLS(err error) error {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var verify *tls.CertificateVerificationError
	var inval x509.CertificateInvalidError
	if errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &verify) || errors.As(err, &inval) {
		return fmt.Errorf("%w: %v", ErrTLS, err)
	}
	return fmt.Errorf("%w: %v", ErrConnect, err)
}
