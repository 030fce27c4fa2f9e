#!/usr/bin/env bash
# debcheck.sh DEB [VERSION]: install the .deb on this machine as an admin would (dpkg -i), check what it
# put where, run `xtmsyncd version` and `config validate` on the installed example, then purge it.
# Needs root. Files the example names (CAs, secrets) are created for the check only if absent,
# and removed again; an xtmsyncd already installed from elsewhere is refused, not replaced.
set -euo pipefail
deb=${1:?usage: debcheck.sh dist/xtmsyncd_VERSION_amd64.deb}
log() { printf 'debcheck: %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i)"
if dpkg-query -W -f='${Status}' xtmsyncd 2>/dev/null | grep -q 'ok installed'; then
  fail "xtmsyncd is already installed here ($(dpkg-query -W -f='${Version}' xtmsyncd)); not touching it"
fi
cfg=/etc/xtmsyncd/xtmsyncd.yaml
created=() made_dirs=()
tmp=$(mktemp -d)
cleanup() {
  local f
  for f in "${created[@]}"; do rm -f "$f"; done
  for f in "${made_dirs[@]}"; do rmdir "$f" 2>/dev/null || true; done
  rm -rf "$tmp"
  if dpkg-query -W xtmsyncd >/dev/null 2>&1; then dpkg --purge xtmsyncd >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

log "dpkg -i $deb"
dpkg -i "$deb"
getent passwd xtmsyncd >/dev/null || fail "no xtmsyncd user"
[ "$(stat -c %U:%G:%a /var/lib/xtmsyncd)" = xtmsyncd:xtmsyncd:750 ] || fail "/var/lib/xtmsyncd is $(stat -c %U:%G:%a /var/lib/xtmsyncd)"
[ "$(stat -c %U:%G:%a "$cfg")" = root:xtmsyncd:640 ] || fail "$cfg is $(stat -c %U:%G:%a "$cfg")"
[ -f /usr/lib/systemd/system/xtmsyncd.service ] || fail "no systemd unit"
log "xtmsyncd version"
xtmsyncd version
want=${2:-$(git describe --tags --always --dirty 2>/dev/null || true)}  # what make package stamped
if [ -n "$want" ]; then xtmsyncd version | grep -qF "xtmsyncd $want " || fail "version is not $want"; fi

# The example names files only a real host has: validate must report exactly those, nothing else.
log "config validate $cfg (no CA or secret files yet: expect exactly those problems)"
if out=$(XTM_SOURCE_BIND_PASSWORD=example xtmsyncd config validate -config "$cfg" 2>&1); then fail "validated without its files"; fi
printf '%s\n' "$out"
missing=$(printf '%s\n' "$out" | sed -n 's/.*: cannot read: .* \(\/[^ :]*\): no such file or directory$/\1/p' | sort)
[ "$(printf '%s\n' "$out" | grep -c '^  ')" = "$(printf '%s\n' "$missing" | grep -c .)" ] ||
  fail "problems other than missing files"
# A throwaway certificate and key stand in for the CAs and the Graph certificate.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj '/CN=xtmsyncd debcheck' \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
for f in $missing; do
  case $f in /etc/xtmsyncd/*|/run/secrets/*) ;; *) fail "unexpected path $f" ;; esac
  if [ ! -d "$(dirname "$f")" ]; then mkdir -p "$(dirname "$f")"; made_dirs+=("$(dirname "$f")"); fi
  case $f in
    */graph-*.pem) cat "$tmp/cert.pem" "$tmp/key.pem" > "$f" ;;
    *.pem) cp "$tmp/cert.pem" "$f" ;;
    *) printf 'not-a-real-secret\n' > "$f" ;;
  esac
  chmod 600 "$f"; created+=("$f")
done
log "config validate $cfg (with those files present and XTM_SOURCE_BIND_PASSWORD set)"
XTM_SOURCE_BIND_PASSWORD=example xtmsyncd config validate -config "$cfg"

for f in "${created[@]}"; do rm -f "$f"; done
created=()
log "dpkg --purge xtmsyncd"
dpkg --purge xtmsyncd
[ ! -e /usr/bin/xtmsyncd ] || fail "/usr/bin/xtmsyncd left after purge"
[ ! -e "$cfg" ] || fail "$cfg left after purge"
log "ok: installed, version and config validate ran, purged"
