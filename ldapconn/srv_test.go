package ldapconn

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/config"
	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer answers SRV questions from records (by lower-case name) on a UDP socket of its
// own, and records the names asked.
type dnsServer struct {
	mu    sync.Mutex
	asked []string
	addr  string
}

func startDNS(t *testing.T, records map[string][]dnsmessage.SRVResource) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	s := &dnsServer{addr: pc.LocalAddr().String()}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if m.Unpack(buf[:n]) != nil || len(m.Questions) != 1 {
				continue
			}
			q := m.Questions[0]
			name := strings.ToLower(q.Name.String())
			s.mu.Lock()
			s.asked = append(s.asked, name)
			s.mu.Unlock()
			resp := dnsmessage.Message{Header: dnsmessage.Header{ID: m.ID, Response: true, Authoritative: true}, Questions: m.Questions}
			rs, ok := records[name]
			if !ok || q.Type != dnsmessage.TypeSRV {
				resp.RCode = dnsmessage.RCodeNameError
			}
			for _, r := range rs {
				resp.Answers = append(resp.Answers, dnsmessage.Resource{
					Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeSRV, Class: dnsmessage.ClassINET, TTL: 60},
					Body:   &r})
			}
			out, err := resp.Pack()
			if err == nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	return s
}

func srv(target string, prio uint16) dnsmessage.SRVResource {
	return dnsmessage.SRVResource{Priority: prio, Weight: 0, Port: 389, Target: dnsmessage.MustNewName(target)}
}

// DNS SRV discovery (issue 17): domain asks _ldap._tcp.dc._msdcs.<domain>, site asks the
// site's records; the DCs come in priority order, as LDAPS URLs on 636, or as ldap:// on the
// record's port with StartTLS; a domain with no records is a clear error naming the lookup.
func TestCandidates_SRVDiscovery(t *testing.T) {
	dns := startDNS(t, map[string][]dnsmessage.SRVResource{
		"_ldap._tcp.dc._msdcs.northwind.test.":             {srv("dc2.northwind.test.", 10), srv("dc1.northwind.test.", 0)},
		"_ldap._tcp.oslo._sites.dc._msdcs.northwind.test.": {srv("dc-oslo.northwind.test.", 0)},
	})
	old := Resolver
	Resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dns.addr)
	}}
	t.Cleanup(func() { Resolver = old })
	for _, tc := range []struct {
		name string
		d    config.Directory
		want []string
	}{
		{"domain, LDAPS", config.Directory{Domain: "northwind.test"}, []string{"ldaps://dc1.northwind.test:636", "ldaps://dc2.northwind.test:636"}},
		{"domain, StartTLS", config.Directory{Domain: "northwind.test", StartTLS: true}, []string{"ldap://dc1.northwind.test:389", "ldap://dc2.northwind.test:389"}},
		{"site", config.Directory{Domain: "northwind.test", Site: "oslo"}, []string{"ldaps://dc-oslo.northwind.test:636"}},
		{"urls, no lookup", config.Directory{URLs: []string{"ldaps://b", "ldaps://a"}}, []string{"ldaps://b", "ldaps://a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := candidates(context.Background(), &tc.d)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("candidates %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	_, err := candidates(context.Background(), &config.Directory{Domain: "fabrikam.test"})
	if err == nil || !strings.Contains(err.Error(), "_ldap._tcp.dc._msdcs.fabrikam.test") || !strings.Contains(err.Error(), "urls") {
		t.Errorf("no records: %v; want an error naming the lookup and the urls alternative", err)
	}
}
