package graphtest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwtBearer is the client_assertion_type of a certificate credential.
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Authority is a fake Entra ID authority on an httptest TLS server. It
// serves GET /{tenant}/v2.0/.well-known/openid-configuration and POST
// /{tenant}/oauth2/v2.0/token (client_credentials only), checking
// client_id and either client_secret or a PS256 client_assertion signed by
// a certificate registered with TrustCert. Point graph.AppOptions at it
// with AuthorityHost = Srv.URL and DisableInstanceDiscovery = true.
type Authority struct {
	Srv      *httptest.Server
	Tenant   string
	ClientID string
	Secret   string
	// AccessToken is the token issued on success ("fake-token." +
	// tenant); pass it to NewTenant.
	AccessToken string
	// TokenRequests counts POSTs to the token endpoint (successful or
	// not); discovery requests are not counted.
	TokenRequests atomic.Int64
	// Fail401 makes every token request fail with an AADSTS-style 401
	// invalid_client error.
	Fail401 atomic.Bool

	mu        sync.Mutex
	certs     []*x509.Certificate
	lastScope string
}

// NewAuthority starts a fake authority for tenant and clientID, accepting
// secret (if non-empty) and any certificate later passed to TrustCert. The
// server is closed when t ends.
func NewAuthority(t testing.TB, tenant, clientID, secret string) *Authority {
	t.Helper()
	a := &Authority{Tenant: tenant, ClientID: clientID, Secret: secret, AccessToken: "fake-token." + tenant}
	a.Srv = httptest.NewTLSServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Srv.Close)
	return a
}

// TrustCert registers cert as a credential of the app.
func (a *Authority) TrustCert(cert *x509.Certificate) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.certs = append(a.certs, cert)
}

// LastScope returns the scope parameter of the last token request, as
// sent (MSAL appends "openid offline_access profile").
func (a *Authority) LastScope() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastScope
}

// serve routes the authority's two endpoints.
func (a *Authority) serve(w http.ResponseWriter, r *http.Request) {
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(p) == 4 && p[1] == "v2.0" && p[2] == ".well-known" && p[3] == "openid-configuration" && r.Method == http.MethodGet:
		if !strings.EqualFold(p[0], a.Tenant) {
			aadError(w, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found.", p[0]))
			return
		}
		base := a.Srv.URL + "/" + p[0]
		writeJSON(w, http.StatusOK, map[string]any{
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"issuer":                 base + "/v2.0", // must be on the authority's host:port
			"tenant_region_scope":    "EU",
		})
	case len(p) == 4 && p[1] == "oauth2" && p[2] == "v2.0" && p[3] == "token" && r.Method == http.MethodPost:
		a.TokenRequests.Add(1)
		a.token(w, r, p[0])
	default:
		aadError(w, http.StatusNotFound, "invalid_request", 90010, "Unknown endpoint "+r.Method+" "+r.URL.Path)
	}
}

// token answers a token request.
func (a *Authority) token(w http.ResponseWriter, r *http.Request, tenant string) {
	if !strings.EqualFold(tenant, a.Tenant) {
		aadError(w, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found.", tenant))
		return
	}
	if err := r.ParseForm(); err != nil {
		aadError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must be a form.")
		return
	}
	f := r.PostForm
	a.mu.Lock()
	a.lastScope = f.Get("scope")
	a.mu.Unlock()
	if a.Fail401.Load() {
		aadError(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
		return
	}
	if g := f.Get("grant_type"); g != "client_credentials" {
		aadError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+g+"'.")
		return
	}
	if f.Get("client_id") != a.ClientID {
		aadError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory.", f.Get("client_id")))
		return
	}
	if !hasDefaultScope(f.Get("scope")) {
		aadError(w, http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.")
		return
	}
	switch {
	case f.Has("client_secret"):
		if a.Secret == "" || subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(a.Secret)) != 1 {
			aadError(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided.")
			return
		}
	case f.Has("client_assertion"):
		if f.Get("client_assertion_type") != jwtBearer {
			aadError(w, http.StatusBadRequest, "invalid_request", 90031, "Invalid client_assertion_type.")
			return
		}
		aud := "https://" + r.Host + r.URL.Path
		if err := a.checkAssertion(f.Get("client_assertion"), aud); err != nil {
			aadError(w, http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation: "+err.Error())
			return
		}
	default:
		aadError(w, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     3600,
		"ext_expires_in": 3600,
		"access_token":   a.AccessToken,
	})
}

// hasDefaultScope reports whether a space-separated scope list holds a
// "<resource>/.default" scope.
func hasDefaultScope(scope string) bool {
	for _, s := range strings.Fields(scope) {
		if strings.HasSuffix(s, "/.default") {
			return true
		}
	}
	return false
}

// checkAssertion verifies a PS256 client assertion: header x5t#S256 naming
// a trusted certificate, signature, aud, iss, sub and time claims.
func (a *Authority) checkAssertion(assertion, aud string) error {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWS")
	}
	var hdr struct {
		Alg     string `json:"alg"`
		X5tS256 string `json:"x5t#S256"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if hdr.Alg != "PS256" {
		return fmt.Errorf("alg %q, want PS256", hdr.Alg)
	}
	var cert *x509.Certificate
	a.mu.Lock()
	for _, c := range a.certs {
		sum := sha256.Sum256(c.Raw)
		if base64.StdEncoding.EncodeToString(sum[:]) == hdr.X5tS256 {
			cert = c
		}
	}
	a.mu.Unlock()
	if cert == nil {
		return fmt.Errorf("no trusted certificate with x5t#S256 %q", hdr.X5tS256)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("certificate key is not RSA")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("signature encoding: %w", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	var cl struct {
		Aud string `json:"aud"`
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
		Nbf int64  `json:"nbf"`
	}
	if err := decodeSegment(parts[1], &cl); err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	now := time.Now().Unix()
	switch {
	case cl.Aud != aud:
		return fmt.Errorf("aud %q, want %q", cl.Aud, aud)
	case cl.Iss != a.ClientID || cl.Sub != a.ClientID:
		return fmt.Errorf("iss/sub %q/%q, want the client id", cl.Iss, cl.Sub)
	case cl.Exp <= now:
		return fmt.Errorf("expired")
	case cl.Nbf > now+300:
		return fmt.Errorf("not yet valid")
	}
	return nil
}

// decodeSegment decodes one base64url JSON segment of a JWS.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// aadError writes an AADSTS-style OAuth error body.
func aadError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	trace := newID()
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Timestamp: %s", aadsts, desc, trace, time.Now().UTC().Format("2006-01-02 15:04:05Z")),
		"error_codes":       []int{aadsts},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"trace_id":          trace,
		"correlation_id":    newID(),
		"error_uri":         "https://login.microsoftonline.com/error?code=" + fmt.Sprint(aadsts),
	})
}
