#!/usr/bin/env bash
# testdirs.sh: two real Active Directories (Samba AD DC) on loopback for xtmsyncd's demo and tests.
#
#   scripts/testdirs.sh install   install Samba AD DC and the LDAP tools (Debian), never starting services
#   scripts/testdirs.sh up        provision (first time) or restore the snapshot, start, seed the demo data
#   scripts/testdirs.sh down      stop the servers this script started (by PID)
#   scripts/testdirs.sh status    what runs, where, with how much memory
#   scripts/testdirs.sh reset     back to the snapshot plus freshly seeded demo data (fast);
#                                 "reset target" (or source) resets only that one
#   scripts/testdirs.sh env       print the variables the tests and the demo config read
#
# SOURCE forest: realm CONTOSO.TEST on 127.0.0.1; TARGET forest: realm NORTHWIND.TEST on ::1.
# Samba's LDAP ports are fixed (389/636/3268/3269), so each forest gets its own loopback address.
# Each forest has its own CA and a server certificate whose SAN covers its address.
# State lives in $XTM_TESTDIRS (default: .testdirs in the project). Nothing listens off loopback.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${XTM_TESTDIRS:-$ROOT/.testdirs}
ADMIN_PW=${XTM_TEST_ADMIN_PASSWORD:-'Passw0rd!Admin'}
INSTANCES=(source target)

# instance properties
realm() { case $1 in source) echo CONTOSO.TEST ;; target) echo NORTHWIND.TEST ;; esac; }
addr() { case $1 in source) echo 127.0.0.1 ;; target) echo ::1 ;; esac; }
base() { local r; r=$(realm "$1"); r=${r,,}; echo "DC=${r//./,DC=}"; }
hostport() { case $(addr "$1") in *:*) echo "[$(addr "$1")]" ;; *) addr "$1" ;; esac; }
dir() { echo "$STATE/$1"; }
snap() { echo "$STATE/snapshot/$1.tar"; }
pidfile() { echo "$(dir "$1")/run/testdirs.pid"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
lower() { echo "${1,,}"; }
log() { printf 'testdirs: %s\n' "$*" >&2; }

need_root() { [ "$(id -u)" = 0 ] || { log "this step needs root (apt-get, Samba's ports)"; exit 1; }; }

# The packages the forests need; invoke-rc.d asks $POLICY_RC_D whether a package may start a service.
PACKAGES=(samba samba-ad-dc samba-ad-provision samba-dsdb-modules python3-samba winbind
          ldb-tools ldap-utils openssl procps iproute2 krb5-user)
POLICY_RC_D=${XTM_POLICY_RC_D:-/usr/sbin/policy-rc.d}
policy_ours=0

installed() {
  command -v samba >/dev/null && command -v samba-tool >/dev/null && command -v ldapmodify >/dev/null \
    && command -v kinit >/dev/null \
    && [ -d "${XTM_SAMBA_SETUP_DIR:-/usr/share/samba/setup}" ]
}

cmd_install() {
  if installed; then log "Samba AD DC already installed ($(samba --version))"; return 0; fi
  need_root
  local t rc=0; t=$(now)
  # Package scripts must not start smbd/nmbd/samba on every interface: deny service starts while
  # we install. A policy-rc.d that was there before is the admin's and stays; ours is removed
  # right after apt-get, and by the EXIT/INT/TERM traps if the script dies in between.
  if [ ! -e "$POLICY_RC_D" ]; then
    trap 'rm -f "$POLICY_RC_D"' EXIT
    trap 'rm -f "$POLICY_RC_D"; exit 130' INT TERM
    printf '#!/bin/sh\nexit 101\n' > "$POLICY_RC_D" && chmod +x "$POLICY_RC_D"
    policy_ours=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null ||
    rc=$?
  if [ "$policy_ours" = 1 ]; then
    rm -f "$POLICY_RC_D"; policy_ours=0
    trap - EXIT INT TERM
  fi
  [ "$rc" = 0 ] || { log "apt-get failed (exit $rc) installing ${PACKAGES[*]}"; exit "$rc"; }
  # Debian enables the units; they must not start at the next boot either.
  if command -v systemctl >/dev/null; then
    systemctl disable --now samba-ad-dc smbd nmbd winbind >/dev/null 2>&1 || true
  fi
  installed || { log "apt-get succeeded but samba, samba-tool or ldapmodify is still missing"; exit 1; }
  log "installed $(samba --version) in $(since "$t") s"
}

gen_tls() { # instance: a CA of its own and a server certificate for its address
  local d; d=$(dir "$1")/tls; mkdir -p "$d"
  [ -f "$d/cert.pem" ] && return 0
  local a; a=$(addr "$1")
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=xtmsyncd test CA $(realm "$1")" \
    -keyout "$d/ca.key" -out "$d/ca.pem" -addext 'basicConstraints=critical,CA:TRUE' \
    -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=dc1.$(lower "$(realm "$1")")" \
    -keyout "$d/key.pem" -out "$d/req.csr" 2>/dev/null
  printf 'subjectAltName=IP:%s,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' "$a" > "$d/ext.cnf"
  openssl x509 -req -in "$d/req.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 3650 -out "$d/cert.pem" -extfile "$d/ext.cnf" 2>/dev/null
  chmod 600 "$d/key.pem" "$d/ca.key"
}

schema_ldif() { # instance: Exchange attributeSchema records from testdata/schema/exchange-attributes.tsv
  local S; S="CN=Schema,CN=Configuration,$(base "$1")"
  local refresh='dn:
changetype: modify
add: schemaUpdateNow
schemaUpdateNow: 1
-
'
  local names=()
  while IFS=$'\t' read -r name cn oid syn om single extra; do
    case $name in ''|'#'*) continue ;; REFRESH) printf '%s\n' "$refresh"; continue ;; esac
    names+=("$name")
    printf 'dn: CN=%s,%s\nchangetype: add\nobjectClass: top\nobjectClass: attributeSchema\ncn: %s\n' "$cn" "$S" "$cn"
    printf 'lDAPDisplayName: %s\nattributeID: %s\nattributeSyntax: %s\noMSyntax: %s\n' "$name" "$oid" "$syn" "$om"
    printf 'isSingleValued: %s\nadminDisplayName: %s\nshowInAdvancedViewOnly: TRUE\n' "$single" "$cn"
    [ "$extra" = - ] || printf '%s\n' "$extra" | tr ';' '\n'
    echo
  done < "$ROOT/testdata/schema/exchange-attributes.tsv"
  printf '%s\n' "$refresh"
  # Mail-Recipient is the auxiliary class that user, group and contact all carry.
  printf 'dn: CN=Mail-Recipient,%s\nchangetype: modify\nadd: mayContain\n' "$S"
  printf 'mayContain: %s\n' "${names[@]}"
  printf -- '-\n\n%s\n' "$refresh"
}

ldap_url() { echo "ldap://$(hostport "$1")"; }
ldaps_url() { echo "ldaps://$(hostport "$1")"; }
admin_dn() { echo "Administrator@$(lower "$(realm "$1")")"; }
lmod() { # instance, ldapmodify args...: as Administrator over LDAPS, verifying the instance's CA
  local i=$1; shift
  LDAPTLS_CACERT="$(dir "$i")/tls/ca.pem" ldapmodify -x -H "$(ldaps_url "$i")" -D "$(admin_dn "$i")" -w "$ADMIN_PW" "$@"
}
lsearch() {
  local i=$1; shift
  LDAPTLS_CACERT="$(dir "$i")/tls/ca.pem" ldapsearch -x -LLL -o ldif-wrap=no -H "$(ldaps_url "$i")" \
    -D "$(admin_dn "$i")" -w "$ADMIN_PW" "$@"
}

pid_of() { local p; p=$(cat "$(pidfile "$1")" 2>/dev/null || true); [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"; return 0; }
answers() { ldapsearch -x -H "$(ldap_url "$1")" -b '' -s base namingContexts >/dev/null 2>&1; }

start() { # instance
  local i=$1 d t p; d=$(dir "$i")
  if [ -n "$(pid_of "$i")" ] && answers "$i"; then return 0; fi
  t=$(now); mkdir -p "$d/run"
  # Foreground single process, own PID file; TDB_NO_FSYNC and ldb:nosync trade durability for speed (test data only).
  # The KDC runs too (on the instance's own address), so Kerberos sign-in is tested for real.
  # Samba refuses SASL without its own signing even inside TLS unless told otherwise; Windows
  # DCs accept Kerberos over LDAPS and StartTLS as xtmsyncd signs in (no SASL security layer).
  TDB_NO_FSYNC=1 setsid samba -i -M single -s "$d/etc/smb.conf" --option="server services=ldap kdc" \
    --option="ldap server require strong auth=allow_sasl_over_tls" \
    < /dev/null > "$d/samba.out" 2>&1 &
  p=$!; echo "$p" > "$(pidfile "$i")"
  for _ in $(seq 1 300); do
    answers "$i" && break
    kill -0 "$p" 2>/dev/null || { tail -20 "$d/samba.out" >&2; log "$i: samba exited"; exit 1; }
    sleep 0.05
  done
  answers "$i" || { tail -20 "$d/samba.out" >&2; log "$i: LDAP did not answer"; exit 1; }
  log "$i: $(realm "$i") answers on $(ldaps_url "$i") after $(since "$t") s (pid $p)"
}

stop() { # instance: only the PID we recorded
  local i=$1 p; p=$(pid_of "$i")
  if [ -n "$p" ]; then
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$p" 2>/dev/null && { kill -9 "$p" 2>/dev/null || true; }
    log "$i: stopped pid $p"
  fi
  rm -f "$(pidfile "$i")"
}

provision() { # instance: from nothing to a schema-extended snapshot
  local i=$1 d t a ipopt; d=$(dir "$i"); a=$(addr "$i"); t=$(now)
  rm -rf "$d"; mkdir -p "$d/run"
  gen_tls "$i"
  ipopt=--host-ip=$a; case $a in *:*) ipopt=--host-ip6=$a ;; esac
  samba-tool domain provision --targetdir="$d" --backend-store=mdb \
    --realm="$(realm "$i")" --domain="$(realm "$i" | cut -d. -f1)" --server-role=dc --dns-backend=NONE \
    --host-name=dc1 "$ipopt" --adminpass="$ADMIN_PW" \
    --option="interfaces=$a" --option="bind interfaces only=yes" \
    --option="server services=ldap" \
    --option="pid directory=$d/run" --option="log file=$d/log.%m" \
    --option="dsdb:schema update allowed=true" --option="ldb:nosync=true" \
    --option="tls enabled=yes" --option="tls keyfile=$d/tls/key.pem" \
    --option="tls certfile=$d/tls/cert.pem" --option="tls cafile=$d/tls/ca.pem" \
    > "$d/provision.log" 2>&1 || { tail -20 "$d/provision.log" >&2; exit 1; }
  # Plain-LDAP simple binds stay refused (Samba's default); the tools bind over LDAPS or StartTLS.
  log "$i: provisioned $(realm "$i") in $(since "$t") s"
  start "$i"
  t=$(now)
  schema_ldif "$i" > "$d/exchange-schema.ldif"
  lmod "$i" -f "$d/exchange-schema.ldif" > "$d/exchange-schema.out"
  log "$i: Exchange schema added in $(since "$t") s"
  stop "$i"
  mkdir -p "$STATE/snapshot"
  tar --warning=no-file-ignored -C "$STATE" -cf "$(snap "$i").tmp" "$i" && mv "$(snap "$i").tmp" "$(snap "$i")"
}

restore() { # instance: the snapshot replaces the live directory
  local i=$1; stop "$i"; rm -rf "$(dir "$i")"; tar -C "$STATE" -xf "$(snap "$i")"
}

seeded() { lsearch "$1" -b "$(base "$1")" -s one '(ou=Contoso)' dn 2>/dev/null | grep -q '^dn:' ||
            lsearch "$1" -b "$(base "$1")" -s one '(ou=Northwind)' dn 2>/dev/null | grep -q '^dn:'; }

seed() { # instance: the demo data from testdata/<instance>.ldif
  local i=$1 t; t=$(now)
  if seeded "$i"; then return 0; fi
  lmod "$i" -a -f "$ROOT/testdata/$i.ldif" > "$(dir "$i")/seed.out" ||
    { tail -5 "$(dir "$i")/seed.out" >&2; log "$i: seeding testdata/$i.ldif failed"; exit 1; }
  log "$i: demo data seeded from testdata/$i.ldif in $(since "$t") s"
}

svc_user() { echo svc-xtmsyncd; }
keytab() { echo "$(dir "$1")/svc-xtmsyncd.keytab"; }

kerberos() { # instance: a service account for Kerberos tests, its keytab, and krb5.conf
  local i=$1 d; d=$(dir "$i")
  if ! samba-tool user show "$(svc_user)" -s "$d/etc/smb.conf" >/dev/null 2>&1; then
    if ! samba-tool user add "$(svc_user)" "Svc-$ADMIN_PW" -s "$d/etc/smb.conf" >/dev/null ||
      ! samba-tool group addmembers "Domain Admins" "$(svc_user)" -s "$d/etc/smb.conf" >/dev/null; then
      log "$i: cannot create the Kerberos service account"; exit 1
    fi
    rm -f "$(keytab "$i")"
  fi
  # A Windows DC registers ldap/<host> itself; Samba does it from its DNS update service, which
  # these instances do not run, so the DC's LDAP service principal is added here.
  if ! samba-tool spn list 'DC1$' -s "$d/etc/smb.conf" 2>/dev/null | grep -qi "ldap/dc1\.$(lower "$(realm "$i")")\$"; then
    samba-tool spn add "ldap/dc1.$(lower "$(realm "$i")")" 'DC1$' -s "$d/etc/smb.conf" >/dev/null 2>&1 ||
      { log "$i: cannot add the DC's ldap/ service principal"; exit 1; }
  fi
  if [ ! -s "$(keytab "$i")" ]; then
    samba-tool domain exportkeytab "$(keytab "$i")" --principal="$(svc_user)@$(realm "$i")" -s "$d/etc/smb.conf" >/dev/null 2>&1 ||
      { log "$i: cannot export the keytab of $(svc_user)"; exit 1; }
    chmod 600 "$(keytab "$i")"
  fi
}

write_krb5_conf() { # both realms, their KDCs on the instances' addresses, TCP only
  local i
  {
    echo "# written by scripts/testdirs.sh"
    echo "[libdefaults]"
    echo "  default_realm = $(realm source)"
    echo "  dns_lookup_kdc = false"
    echo "  dns_lookup_realm = false"
    echo "  udp_preference_limit = 1"
    echo "[realms]"
    for i in "${INSTANCES[@]}"; do
      echo "  $(realm "$i") = {"
      echo "    kdc = $(hostport "$i"):88"
      echo "  }"
    done
  } > "$STATE/krb5.conf"
}

bring_up() { # instance
  local i=$1
  if [ -n "$(pid_of "$i")" ] && answers "$i"; then seed "$i"; kerberos "$i"; return 0; fi
  if [ ! -f "$(dir "$i")/etc/smb.conf" ]; then
    if [ -f "$(snap "$i")" ]; then restore "$i"; else provision "$i"; fi
  fi
  start "$i"
  seed "$i"
  kerberos "$i"
}

write_env() {
  local f="$STATE/env" i I
  write_krb5_conf
  {
    echo "# written by scripts/testdirs.sh; source it: . $f"
    for i in "${INSTANCES[@]}"; do
      I=${i^^}
      echo "export XTM_TEST_${I}_URL='$(ldaps_url "$i")'"
      echo "export XTM_TEST_${I}_CA='$(dir "$i")/tls/ca.pem'"
      echo "export XTM_TEST_${I}_BIND_DN='$(admin_dn "$i")'"
      echo "export XTM_TEST_${I}_BASE='$(base "$i")'"
      echo "export XTM_TEST_${I}_KEYTAB='$(keytab "$i")'"
      echo "export XTM_TEST_${I}_PRINCIPAL='$(svc_user)@$(realm "$i")'"
    done
    echo "export XTM_TEST_KRB5_CONF='$STATE/krb5.conf'"
    echo "export XTM_TEST_ADMIN_PASSWORD='$ADMIN_PW'"
    echo "export XTM_SOURCE_BIND_PASSWORD='$ADMIN_PW'"
    echo "export XTM_TARGET_BIND_PASSWORD='$ADMIN_PW'"
  } > "$f"
  chmod 600 "$f"
}

cmd_up() {
  cmd_install
  mkdir -p "$STATE"
  local t i pids=() rc=0; t=$(now)
  for i in "${INSTANCES[@]}"; do bring_up "$i" & pids+=($!); done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  [ "$rc" = 0 ] || { log "up failed"; exit 1; }
  write_env
  log "both directories up in $(since "$t") s; variables: . $STATE/env"
}

cmd_down() { local i; for i in "${INSTANCES[@]}"; do stop "$i"; done; }

cmd_reset() { # [instance]: both, or only the one named
  local t i pids=() rc=0 which=("${INSTANCES[@]}"); t=$(now)
  if [ -n "${1:-}" ]; then
    [[ " ${INSTANCES[*]} " == *" $1 "* ]] || { log "reset: unknown directory '$1' (source or target)"; exit 2; }
    which=("$1")
  fi
  for i in "${which[@]}"; do
    [ -f "$(snap "$i")" ] || { log "no snapshot yet: run 'up' first"; exit 1; }
    ( restore "$i" && start "$i" && seed "$i" && kerberos "$i" ) & pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  [ "$rc" = 0 ] || exit 1
  write_env
  log "reset ${which[*]} in $(since "$t") s"
}

cmd_status() {
  local i p rss rc=0
  for i in "${INSTANCES[@]}"; do
    p=$(pid_of "$i")
    if [ -n "$p" ] && answers "$i"; then
      rss=$(awk '/VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
      printf '%-7s %-15s up    pid %-7s rss %5d MB  %s\n' "$i" "$(realm "$i")" "$p" "$((rss / 1024))" "$(ldaps_url "$i")"
    else
      printf '%-7s %-15s down%s\n' "$i" "$(realm "$i")" "$([ -f "$(snap "$i")" ] && echo ' (snapshot ready)')"; rc=3
    fi
  done
  return $rc
}

# Sourced (the tests do), it only defines the functions.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

case ${1:-} in
  install) cmd_install ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  reset) cmd_reset "${2:-}" ;;
  env) cat "$STATE/env" ;;
  *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
