#!/bin/sh
# Before the files are unpacked (deb preinst, rpm %pre): the xtmsyncd system user and group, so
# that /var/lib/xtmsyncd and /etc/xtmsyncd/xtmsyncd.yaml unpack owned by them.
set -e
if ! getent group xtmsyncd >/dev/null; then
  groupadd --system xtmsyncd
fi
if ! getent passwd xtmsyncd >/dev/null; then
  useradd --system --gid xtmsyncd --home-dir /var/lib/xtmsyncd --no-create-home \
    --shell /usr/sbin/nologin --comment "xtmsyncd service" xtmsyncd
fi
exit 0
