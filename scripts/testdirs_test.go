// Package scripts tests the shell scripts: testdirs.sh's install branch runs here on every CI
// run with a stand-in apt-get, on a PATH without Samba, so a newcomer's first `make demo` is
// exercised even on machines that already have Samba.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// packages is what testdirs.sh must ask apt-get for (the forests need all of them; krb5-user
// gives the Kerberos tests kinit, to fill a credential cache).
var packages = "samba samba-ad-dc samba-ad-provision samba-dsdb-modules python3-samba winbind " +
	"ldb-tools ldap-utils openssl procps iproute2 krb5-user"

// fakeAptGet records its arguments and whether policy-rc.d denies service starts while it runs;
// "install" creates stub samba, samba-tool, ldapmodify and kinit binaries and Samba's setup folder.
// FAKE_APT_EXIT makes it fail; FAKE_APT_SIGNAL makes it send that signal to the script first.
const fakeAptGet = `#!/bin/sh
echo "apt-get $*" >> "$FAKE_LOG"
if [ -x "$XTM_POLICY_RC_D" ]; then "$XTM_POLICY_RC_D" smbd start; echo "policy-rc.d exit $?" >> "$FAKE_LOG"
else echo "policy-rc.d missing" >> "$FAKE_LOG"; fi
if [ -n "$FAKE_APT_SIGNAL" ]; then kill -"$FAKE_APT_SIGNAL" "$PPID"; exit 1; fi
[ -z "$FAKE_APT_EXIT" ] || exit "$FAKE_APT_EXIT"
if [ "$1" = install ]; then
  for b in samba samba-tool ldapmodify kinit; do
    printf '#!/bin/sh\necho "Version 4.17.12-Debian-stub"\n' > "$FAKE_BIN/$b"; chmod +x "$FAKE_BIN/$b"
  done
  mkdir -p "$XTM_SAMBA_SETUP_DIR"
fi
`

const fakeSystemctl = `#!/bin/sh
echo "systemctl $*" >> "$FAKE_LOG"
`

// tools testdirs.sh's install path calls; samba, samba-tool, ldapmodify and kinit are left out on purpose.
var tools = []string{"bash", "sh", "date", "awk", "chmod", "rm", "cat", "mkdir", "dirname", "printf", "kill", "sleep"}

type sandbox struct {
	dir, bin, log, policy string
	env                   []string
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	dir := t.TempDir()
	s := &sandbox{dir: dir, bin: filepath.Join(dir, "bin"), log: filepath.Join(dir, "calls.log"),
		policy: filepath.Join(dir, "policy-rc.d")}
	if err := os.Mkdir(s.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s is needed to run testdirs.sh: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(s.bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(s.bin, "apt-get"), fakeAptGet, 0o755)
	write(t, filepath.Join(s.bin, "systemctl"), fakeSystemctl, 0o755)
	write(t, filepath.Join(s.bin, "id"), "#!/bin/sh\necho 0\n", 0o755) // need_root passes without root
	s.env = []string{
		"PATH=" + s.bin, "HOME=" + dir, "LC_ALL=C",
		"FAKE_LOG=" + s.log, "FAKE_BIN=" + s.bin,
		"XTM_POLICY_RC_D=" + s.policy,
		"XTM_SAMBA_SETUP_DIR=" + filepath.Join(dir, "samba-setup"),
		"XTM_TESTDIRS=" + filepath.Join(dir, "state"),
	}
	return s
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// run runs a bash command line in the sandbox and returns stdout, stderr and the exit code.
func (s *sandbox) run(t *testing.T, script string, env ...string) (string, string, int) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, "-c", script)
	cmd.Env = append(append([]string{}, s.env...), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func (s *sandbox) calls(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(s.log)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (s *sandbox) policyExists() bool {
	_, err := os.Lstat(s.policy)
	return err == nil
}

func script(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("testdirs.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInstall_FreshMachine(t *testing.T) {
	s := newSandbox(t)
	_, stderr, code := s.run(t, "bash "+script(t)+" install")
	if code != 0 {
		t.Fatalf("install exited %d:\n%s", code, stderr)
	}
	calls := s.calls(t)
	for _, want := range []string{
		"apt-get update -qq\npolicy-rc.d exit 101\n",
		"apt-get install -y -qq --no-install-recommends " + packages + "\npolicy-rc.d exit 101\n",
		"systemctl disable --now samba-ad-dc smbd nmbd winbind\n",
	} {
		if !strings.Contains(calls, want) {
			t.Errorf("calls lack %q:\n%s", want, calls)
		}
	}
	if s.policyExists() {
		t.Errorf("policy-rc.d left behind after install")
	}
	if !strings.Contains(stderr, "testdirs: installed Version 4.17.12-Debian-stub in ") {
		t.Errorf("no install line in stderr:\n%s", stderr)
	}
	if strings.Contains(stderr, "unbound variable") {
		t.Errorf("stderr: %s", stderr)
	}
}

// The bug this guards against: a RETURN trap set in cmd_install fired again when later functions
// returned (cmd_up goes on after cmd_install), and failed under set -u.
func TestInstall_LeavesNoTrapForLaterFunctions(t *testing.T) {
	s := newSandbox(t)
	// like cmd_up: cmd_install, then more functions, all inside a function
	stdout, stderr, code := s.run(t, "set -euo pipefail; . "+script(t)+
		"; up() { cmd_install; realm source; base target; }; up; trap -p; echo after")
	if code != 0 {
		t.Fatalf("exited %d:\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if want := "CONTOSO.TEST\nDC=northwind,DC=test\nafter\n"; stdout != want {
		t.Errorf("stdout = %q, want %q (no trap may be left set)", stdout, want)
	}
	if strings.Contains(stderr, "unbound variable") || s.policyExists() {
		t.Errorf("policy-rc.d left: %v; stderr: %s", s.policyExists(), stderr)
	}
}

func TestInstall_KeepsAnExistingPolicy(t *testing.T) {
	s := newSandbox(t)
	const admin = "#!/bin/sh\n# the admin's own\nexit 0\n"
	write(t, s.policy, admin, 0o755)
	_, stderr, code := s.run(t, "bash "+script(t)+" install")
	if code != 0 {
		t.Fatalf("install exited %d:\n%s", code, stderr)
	}
	b, err := os.ReadFile(s.policy)
	if err != nil || string(b) != admin {
		t.Errorf("the existing policy-rc.d was changed or removed: %q, %v", b, err)
	}
	if calls := s.calls(t); !strings.Contains(calls, "apt-get install -y -qq --no-install-recommends "+packages) {
		t.Errorf("install not asked for:\n%s", calls)
	}
}

func TestInstall_FailureRemovesTheGuard(t *testing.T) {
	s := newSandbox(t)
	_, stderr, code := s.run(t, "bash "+script(t)+" install", "FAKE_APT_EXIT=100")
	if code != 100 {
		t.Errorf("exit %d, want apt-get's 100; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "testdirs: apt-get failed (exit 100)") {
		t.Errorf("stderr: %s", stderr)
	}
	if s.policyExists() {
		t.Errorf("policy-rc.d left behind after a failed install")
	}
	if calls := s.calls(t); strings.Contains(calls, "apt-get install") {
		t.Errorf("install ran after update failed:\n%s", calls)
	}
}

func TestInstall_InterruptRemovesTheGuard(t *testing.T) {
	for _, sig := range []string{"TERM", "INT"} {
		t.Run(sig, func(t *testing.T) {
			s := newSandbox(t)
			_, stderr, code := s.run(t, "bash "+script(t)+" install", "FAKE_APT_SIGNAL="+sig)
			if code == 0 {
				t.Errorf("exit 0 after SIG%s; stderr:\n%s", sig, stderr)
			}
			if s.policyExists() {
				t.Errorf("policy-rc.d left behind after SIG%s", sig)
			}
		})
	}
}

func TestInstall_AlreadyInstalledAsksNothing(t *testing.T) {
	s := newSandbox(t)
	if _, stderr, code := s.run(t, "bash "+script(t)+" install"); code != 0 {
		t.Fatalf("first install exited %d:\n%s", code, stderr)
	}
	if err := os.Remove(s.log); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := s.run(t, "bash "+script(t)+" install")
	if code != 0 || !strings.Contains(stderr, "already installed (Version 4.17.12-Debian-stub)") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if calls := s.calls(t); calls != "" {
		t.Errorf("a second install called:\n%s", calls)
	}
}
