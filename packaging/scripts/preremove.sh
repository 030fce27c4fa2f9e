#!/bin/sh
# Before the files are removed (deb prerm remove|upgrade|..., rpm %preun 0|1): on removal, stop
# and disable the service (a stop lets the write in flight finish and be journaled).
set -e
case "$1" in
  remove|0)
    if [ -d /run/systemd/system ]; then
      systemctl disable --now xtmsyncd.service >/dev/null 2>&1 || true
    fi
    ;;
esac
exit 0
