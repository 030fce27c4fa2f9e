//go:build !windows

package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/xtmsyncd/xtmsyncd/config"
)

// serviceUser is the system user the packages create and `service install` runs the daemon as.
const serviceUser = "xtmsyncd"

// defaultAccount is the xtmsyncd system user when it exists, else none (install then asks for
// -user rather than running the service as root).
func defaultAccount() string {
	if _, err := user.Lookup(serviceUser); err == nil {
		return serviceUser
	}
	return ""
}

// currentAccount names the user this process runs as (the unit rendered while running is not
// installed).
func currentAccount() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// windowsAccount is the account kardianos gives a Windows service: none here (systemd's unit
// carries User=).
func windowsAccount(string) string { return "" }

// prepareAccount checks the account exists and gives it the directories the daemon writes: the
// journal's, reports_dir and completed_dir, created 0750 and owned by it.
func prepareAccount(c *config.Config, account string) error {
	if account == "" {
		return errors.New("service install: no account to run as: create a system user (useradd --system --home-dir /var/lib/xtmsyncd --shell /usr/sbin/nologin xtmsyncd) and pass -user xtmsyncd; the .deb and .rpm create it")
	}
	u, err := user.Lookup(account)
	if err != nil {
		return fmt.Errorf("service install: -user %s: %w", account, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, d := range []string{filepath.Dir(c.Journal.Path), c.Service.ReportsDir, c.Service.CompletedDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("service install: %w", err)
		}
		if os.Geteuid() == 0 {
			if err := os.Chown(d, uid, gid); err != nil {
				return fmt.Errorf("service install: give %s to %s: %w", d, account, err)
			}
		}
	}
	return nil
}
