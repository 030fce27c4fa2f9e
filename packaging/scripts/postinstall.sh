#!/bin/sh
# After the files are unpacked (deb postinst configure [OLD-VERSION], rpm %post 1|2). The unit is
# never enabled here: the config needs the admin's forests first (then `xtmsyncd doctor`).
set -e
upgrade=no
case "$1" in
  configure) [ -z "${2:-}" ] || upgrade=yes ;;
  2) upgrade=yes ;;
esac
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  if [ "$upgrade" = yes ]; then systemctl try-restart xtmsyncd.service >/dev/null 2>&1 || true; fi
fi
if [ "$upgrade" = no ]; then
  cat <<'MSG'
xtmsyncd installed. Next:
  1. edit /etc/xtmsyncd/xtmsyncd.yaml (forests, OU, scope group, domains) and put the
     passwords in /etc/default/xtmsyncd or in files owned by xtmsyncd, mode 0400
  2. xtmsyncd config validate -config /etc/xtmsyncd/xtmsyncd.yaml
  3. xtmsyncd doctor -config /etc/xtmsyncd/xtmsyncd.yaml   (with the password variables set)
  4. systemctl enable --now xtmsyncd   (writes only with service.apply: true)
MSG
fi
exit 0
