package doctor

import (
	"strings"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
)

// Kerberos refuses clocks more than 5 minutes apart (KRB_AP_ERR_SKEW): with bind kerberos the
// clock check fails beyond that, either way; with a simple bind it passes with a warning.
func TestClock_KerberosSkewOverFiveMinutesFails(t *testing.T) {
	for _, tc := range []struct {
		bind string
		skew time.Duration
		ok   bool
		warn bool
	}{
		{config.BindKerberos, 4 * time.Minute, true, false},
		{config.BindKerberos, 6 * time.Minute, false, false},
		{config.BindKerberos, -6 * time.Minute, false, false},
		{config.BindSimple, 10 * time.Minute, true, true},
		{config.BindSimple, 0, true, false},
	} {
		ch := clock("source", &config.Directory{Bind: tc.bind}, ldapconn.DC{URL: "ldaps://dc1", Skew: tc.skew})
		if ch.OK != tc.ok || strings.Contains(ch.Detail, "WARNING") != tc.warn || (!ch.OK && !strings.Contains(ch.Fix, "synchronise")) {
			t.Errorf("%s, skew %v: %+v", tc.bind, tc.skew, ch)
		}
	}
}
