#!/bin/bash
# osb: the backup agent beside every MariaDB server (container `backup-agent`, with backup.schedule;
# see docs/backup.md). `listen` serves clients on $OSB_BACKUP_PORT (a few at once). A client sends the
# token ($OSB_BACKUP_TOKEN, from the mariadb-backup-token Secret) as its first line and a request as its
# second:
#   backup         a line `history <id>|-`, then `mariadb-backup --backup --stream=mbstream` of this
#                  server, read from the shared data volume (one backup at a time);
#   binlogs        (backup.pitr) closes the current binlog (FLUSH LOCAL BINARY LOGS) and lists the closed
#                  ones: `history <id>`, `closed-by <UTC time before the flush>`, `file <name> <bytes>`...,
#                  `end`;
#   binlog NAME    the bytes of one closed binlog file.
# <id> names this data dir's binlog history (a file in the data dir: a new data dir — restored, or
# filled by SST — starts a new history, so reused file names never mix). The admin password is only
# in a 0600 file on the container's own /tmp, never in argv.
set -euo pipefail
DATADIR=${OSB_MARIADB_DATADIR:-/var/lib/mysql}
CNF="${TMPDIR:-/tmp}/osb-backup.cnf"
HISTORY="$DATADIR/osb-binlog-history"

history_id() {
  if [ ! -s "$HISTORY" ]; then
    # ln fails when another request created it first: one id per data dir.
    printf '%s-%s\n' "$(date -u +%Y%m%dT%H%M%SZ)" "$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')" >"$HISTORY.$$"
    ln "$HISTORY.$$" "$HISTORY" 2>/dev/null || true
    rm -f "$HISTORY.$$"
  fi
  cat "$HISTORY"
}

case "${1:-listen}" in
  listen)
    umask 077
    mkdir -p "${TMPDIR:-/tmp}"
    # OSB_MARIADB_SOCKET / OSB_MARIADB_DATADIR: only outside a pod (the tests); the image's defaults otherwise.
    printf '[client]\nuser=%s\npassword=%s\nsocket=%s\n[mariadb-backup]\nuser=%s\npassword=%s\nsocket=%s\ndatadir=%s\n' \
      "$OSB_ADMIN_USER" "$MARIADB_ADMIN_PASSWORD" "${OSB_MARIADB_SOCKET:-/run/mysqld/mysqld.sock}" \
      "$OSB_ADMIN_USER" "$MARIADB_ADMIN_PASSWORD" "${OSB_MARIADB_SOCKET:-/run/mysqld/mysqld.sock}" "$DATADIR" >"$CNF"
    echo "osb: backup agent of $POD_NAME listening on port $OSB_BACKUP_PORT"
    # Several clients at once: the binlog archiver must not wait for an hour-long backup stream.
    exec socat "TCP-LISTEN:$OSB_BACKUP_PORT,reuseaddr,fork,max-children=4${OSB_BACKUP_BIND:+,bind=$OSB_BACKUP_BIND}" SYSTEM:"exec bash $0 serve"
    ;;
  serve)
    peer="${SOCAT_PEERADDR:-?}"
    IFS= read -r -t 10 token || { echo "osb: $peer sent no token" >&2; exit 1; }
    if [ "$token" != "$OSB_BACKUP_TOKEN" ]; then echo "osb: $peer sent a wrong token; nothing served" >&2; exit 1; fi
    IFS= read -r -t 10 request || { echo "osb: $peer sent no request" >&2; exit 1; }
    case "$request" in
      backup)
        exec 9>"${TMPDIR:-/tmp}/osb-backup.lock"
        if ! flock -n 9; then echo "osb: $peer asked for a backup while another one streams; refused" >&2; exit 1; fi
        work="${TMPDIR:-/tmp}/osb-backup-work"
        rm -rf "$work" && mkdir -p "$work"
        extra=()
        if [ "${OSB_GALERA:-0}" = 1 ]; then extra+=(--galera-info); fi
        if [ "${OSB_PITR:-0}" = 1 ]; then echo "history $(history_id)"; else echo "history -"; fi
        echo "osb: streaming a full backup of $POD_NAME to $peer" >&2
        # stdout is the connection; mariadb-backup's log goes to stderr (the container log).
        rc=0
        mariadb-backup --defaults-extra-file="$CNF" --backup --stream=mbstream --target-dir="$work" "${extra[@]}" || rc=$?
        rm -rf "$work"
        echo "osb: backup stream of $POD_NAME ended with exit code $rc" >&2
        exit "$rc"
        ;;
      binlogs)
        [ "${OSB_PITR:-0}" = 1 ] || { echo "error binary logs are off (backup.pitr=false)"; exit 1; }
        hist=$(history_id)
        closed=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
        active=$(mariadb --defaults-extra-file="$CNF" -N -B -e 'FLUSH LOCAL BINARY LOGS; SHOW MASTER STATUS' | cut -f1) || {
          echo "error FLUSH LOCAL BINARY LOGS failed"
          exit 1
        }
        echo "history $hist"
        echo "closed-by $closed"
        if [ -f "$DATADIR/mariadb-bin.index" ]; then
          while IFS= read -r f; do
            b=${f##*/}
            [ "$b" != "$active" ] && [ -f "$DATADIR/$b" ] || continue
            echo "file $b $(stat -c %s "$DATADIR/$b")"
          done <"$DATADIR/mariadb-bin.index"
        fi
        echo end
        ;;
      binlog\ *)
        name=${request#binlog }
        if ! [[ "$name" =~ ^mariadb-bin\.[0-9]+$ ]] || [ ! -f "$DATADIR/$name" ]; then
          echo "osb: $peer asked for binlog '$name', which does not exist" >&2
          exit 1
        fi
        exec cat "$DATADIR/$name"
        ;;
      *)
        echo "osb: $peer sent an unknown request" >&2
        exit 1
        ;;
    esac
    ;;
  *)
    echo "usage: backup-agent.sh [listen|serve]" >&2
    exit 2
    ;;
esac
