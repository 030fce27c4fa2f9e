package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// Doer is the HTTP client used for both MSAL and Graph. An *http.Client
// satisfies it; tests pass a loopback-only one (graphtest.LoopbackOnly).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
	CloseIdleConnections()
}

// TokenSource returns a bearer token for Graph.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// TokenFunc adapts a function to a TokenSource.
type TokenFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// Defaults for the public Microsoft cloud.
const (
	DefaultAuthorityHost = "https://login.microsoftonline.com"
	DefaultGraphURL      = "https://graph.microsoft.com"
	DefaultBaseURL       = DefaultGraphURL + "/v1.0"
	defaultHTTPTimeout   = 100 * time.Second
)

// ErrToken is wrapped by every error from a token source built by NewApp
// when a token cannot be acquired (bad secret or certificate, unknown
// tenant or client, network failure). The MSAL error stays in the chain
// too, so errors.As with MSAL's errors.CallErr still works.
var ErrToken = errors.New("graph: token acquisition failed")

// ErrInvalidArgument is wrapped by errors about invalid options or
// arguments (empty ids, both or neither credential, malformed URLs).
var ErrInvalidArgument = errors.New("graph: invalid argument")

// Credential is the app's client credential: exactly one of Secret or
// CertPEM must be set. CertPEM holds a PEM certificate and its unencrypted
// private key (PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY").
//
// String, GoString and LogValue redact both fields, so a Credential (or an
// AppOptions holding one) can be printed or logged without leaking it.
type Credential struct {
	Secret  string
	CertPEM []byte
}

// String describes the credential kind without revealing it.
func (c Credential) String() string {
	switch {
	case c.Secret != "" && len(c.CertPEM) > 0:
		return "graph.Credential{secret+certificate: REDACTED}"
	case c.Secret != "":
		return "graph.Credential{secret: REDACTED}"
	case len(c.CertPEM) > 0:
		return "graph.Credential{certificate: REDACTED}"
	default:
		return "graph.Credential{}"
	}
}

// GoString is String, so %#v does not print the secret either.
func (c Credential) GoString() string { return c.String() }

// LogValue implements slog.LogValuer with a redacted value.
func (c Credential) LogValue() slog.Value { return slog.StringValue(c.String()) }

// AppOptions configure an app-only (client credentials) MSAL confidential
// client.
type AppOptions struct {
	// AuthorityHost is the Entra login host, default
	// "https://login.microsoftonline.com"; for national clouds e.g.
	// "https://login.microsoftonline.us". It must be https.
	AuthorityHost string
	// TenantID is the tenant GUID or a verified domain name.
	TenantID string
	// ClientID is the app (client) id.
	ClientID string
	// Credential is the client secret or certificate.
	Credential Credential
	// Scope is the requested scope, default GraphURL + "/.default".
	Scope string
	// GraphURL is the Graph root used for the default scope, default
	// "https://graph.microsoft.com".
	GraphURL string
	// HTTP is used for every MSAL request; nil means an *http.Client
	// with a 100 s timeout.
	HTTP Doer
	// DisableInstanceDiscovery turns off MSAL's instance discovery call
	// to login.microsoftonline.com. Leave it false in production (the
	// zero value keeps discovery on); set it only in tests against a fake
	// authority, which cannot answer that call.
	DisableInstanceDiscovery bool
}

// app is the TokenSource returned by NewApp.
type app struct {
	cca    confidential.Client
	scopes []string
	tenant string
	client string
}

// NewApp builds an app-only token source on the MSAL confidential client
// for AuthorityHost/TenantID. Token uses AcquireTokenByCredential, which
// serves tokens from MSAL's in-memory cache until they near expiry, so
// callers may call Token before every request. NewApp makes no network
// call.
func NewApp(o AppOptions) (TokenSource, error) {
	if o.TenantID == "" || strings.ContainsAny(o.TenantID, "/?#\\ ") {
		return nil, fmt.Errorf("graph: tenant id %q: %w", o.TenantID, ErrInvalidArgument)
	}
	if o.ClientID == "" {
		return nil, fmt.Errorf("graph: empty client id: %w", ErrInvalidArgument)
	}
	host := strings.TrimRight(o.AuthorityHost, "/")
	if host == "" {
		host = DefaultAuthorityHost
	}
	if u, err := url.Parse(host); err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("graph: authority host %q must be an https URL without a path: %w", o.AuthorityHost, ErrInvalidArgument)
	}
	scope := o.Scope
	if scope == "" {
		g := strings.TrimRight(o.GraphURL, "/")
		if g == "" {
			g = DefaultGraphURL
		}
		scope = g + "/.default"
	}
	cred, err := msalCredential(o.Credential)
	if err != nil {
		return nil, err
	}
	hc := o.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: defaultHTTPTimeout}
	}
	cca, err := confidential.New(host+"/"+o.TenantID, o.ClientID, cred,
		confidential.WithHTTPClient(hc),
		confidential.WithInstanceDiscovery(!o.DisableInstanceDiscovery))
	if err != nil {
		return nil, fmt.Errorf("graph: msal confidential client: %w", err)
	}
	return &app{cca: cca, scopes: []string{scope}, tenant: o.TenantID, client: o.ClientID}, nil
}

// msalCredential converts c, checking that exactly one kind is set.
func msalCredential(c Credential) (confidential.Credential, error) {
	switch {
	case c.Secret != "" && len(c.CertPEM) > 0:
		return confidential.Credential{}, fmt.Errorf("graph: both a client secret and a certificate are set: %w", ErrInvalidArgument)
	case c.Secret != "":
		cred, err := confidential.NewCredFromSecret(c.Secret)
		if err != nil {
			return confidential.Credential{}, fmt.Errorf("graph: client secret: %w", err)
		}
		return cred, nil
	case len(c.CertPEM) > 0:
		certs, key, err := confidential.CertFromPEM(c.CertPEM, "")
		if err != nil {
			return confidential.Credential{}, fmt.Errorf("graph: client certificate PEM: %w: %w", ErrInvalidArgument, err)
		}
		cred, err := confidential.NewCredFromCert(certs, key)
		if err != nil {
			return confidential.Credential{}, fmt.Errorf("graph: client certificate: %w: %w", ErrInvalidArgument, err)
		}
		return cred, nil
	default:
		return confidential.Credential{}, fmt.Errorf("graph: no client secret or certificate: %w", ErrInvalidArgument)
	}
}

// Token returns an access token for the configured scope, from MSAL's
// cache when possible.
func (a *app) Token(ctx context.Context) (string, error) {
	res, err := a.cca.AcquireTokenByCredential(ctx, a.scopes)
	if err != nil {
		return "", fmt.Errorf("%w: tenant %s, client %s, scope %s: %w", ErrToken, a.tenant, a.client, a.scopes[0], err)
	}
	if res.AccessToken == "" {
		return "", fmt.Errorf("%w: tenant %s, client %s: empty access token", ErrToken, a.tenant, a.client)
	}
	return res.AccessToken, nil
}
