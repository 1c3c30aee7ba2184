#!/bin/bash
# osb: the backup agent beside every MariaDB server (container `backup-agent`, only with backup.schedule;
# see docs/backup.md). `listen` serves one backup at a time on $OSB_BACKUP_PORT; a client that sends the
# token ($OSB_BACKUP_TOKEN, from the mariadb-backup-token Secret) as its first line receives
# `mariadb-backup --backup --stream=mbstream` of this server, read from the shared data volume.
# The admin password is only in a 0600 file on the container's own /tmp, never in argv.
set -eu
case "${1:-listen}" in
  listen)
    umask 077
    mkdir -p "${TMPDIR:-/tmp}"
    cnf="${TMPDIR:-/tmp}/osb-backup.cnf"
    # OSB_MARIADB_SOCKET / OSB_MARIADB_DATADIR: only outside a pod (the tests); the image's defaults otherwise.
    printf '[mariadb-backup]\nuser=%s\npassword=%s\nsocket=%s\ndatadir=%s\n' "$OSB_ADMIN_USER" "$MARIADB_ADMIN_PASSWORD" \
      "${OSB_MARIADB_SOCKET:-/run/mysqld/mysqld.sock}" "${OSB_MARIADB_DATADIR:-/var/lib/mysql}" > "$cnf"
    echo "osb: backup agent of $POD_NAME listening on port $OSB_BACKUP_PORT"
    exec socat "TCP-LISTEN:$OSB_BACKUP_PORT,reuseaddr,fork,max-children=1${OSB_BACKUP_BIND:+,bind=$OSB_BACKUP_BIND}" SYSTEM:"exec bash $0 stream"
    ;;
  stream)
    peer="${SOCAT_PEERADDR:-?}"
    IFS= read -r -t 10 token || { echo "osb: $peer sent no token" >&2; exit 1; }
    if [ "$token" != "$OSB_BACKUP_TOKEN" ]; then echo "osb: $peer sent a wrong token; no backup" >&2; exit 1; fi
    work="${TMPDIR:-/tmp}/osb-backup-work"
    rm -rf "$work" && mkdir -p "$work"
    extra=()
    if [ "${OSB_GALERA:-0}" = 1 ]; then extra+=(--galera-info); fi
    echo "osb: streaming a full backup of $POD_NAME to $peer" >&2
    # stdout is the connection; mariadb-backup's log goes to stderr (the container log).
    rc=0
    mariadb-backup --defaults-extra-file="${TMPDIR:-/tmp}/osb-backup.cnf" --backup --stream=mbstream --target-dir="$work" "${extra[@]}" || rc=$?
    rm -rf "$work"
    echo "osb: backup stream of $POD_NAME ended with exit code $rc" >&2
    exit "$rc"
    ;;
  *)
    echo "usage: backup-agent.sh [listen|stream]" >&2
    exit 2
    ;;
esac
