//go:build windows

package main

import (
	"os/user"

	"github.com/xtmsyncd/xtmsyncd/config"
)

// defaultAccount is none on Windows: the service runs as LocalSystem unless -user names a
// group managed service account (DOMAIN\name$) or a virtual account (NT SERVICE\name).
func defaultAccount() string { return "" }

func currentAccount() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// windowsAccount is the account the service control manager runs the service as.
func windowsAccount(a string) string { return a }

// prepareAccount has nothing to do on Windows: the account's rights on the state directories
// are granted by the administrator (see the README's gMSA section).
func prepareAccount(*config.Config, string) error { return nil }
