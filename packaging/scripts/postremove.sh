#!/bin/sh
# After the files are removed (deb postrm remove|purge|upgrade|..., rpm %postun 0|1). The journal
# in /var/lib/xtmsyncd is the record of every change made to the directories (and what rollback
# needs): it is never deleted here, not even on purge; neither is the xtmsyncd user.
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
case "$1" in
  purge|0)
    if [ -d /var/lib/xtmsyncd ]; then
      echo "xtmsyncd: /var/lib/xtmsyncd (the journal) and the xtmsyncd user are kept; remove them by hand when no rollback is needed"
    fi
    ;;
esac
exit 0
