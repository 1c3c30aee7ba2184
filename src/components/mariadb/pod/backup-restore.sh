#!/bin/bash
# osb: restores a MariaDB backup into the data volume of the StatefulSet's pod 0 (container `restore` of
# Job `mariadb-restore-*`, while no server runs; see docs/backup.md). The init container `check` has
# checked the chain and written the plan ($OSB_PLAN_FILE): the backup folders (full first), and for a
# point in time the start position, the stop time and the archived binlogs. This container, with the
# server's image: copies the full backup to a work folder on the data volume, prepares it
# (mariadb-backup --prepare), applies each incremental, moves the result into the data dir, then starts
# the server alone — no network, no Galera, no binlog — checks that it starts and that the admin of
# Secret mariadb-credentials logs in, replays the binlogs up to the time (mariadb-binlog | mariadb, as
# the local target does) and stops it. The admin password comes from env (MYSQL_PWD), never argv.
# The StatefulSet starts only after this succeeded; pod 0 then bootstraps Galera from this data.
set -euo pipefail
umask 077
PLAN=${OSB_PLAN_FILE:-/work/plan}
DATA=${OSB_DATA_DIR:-/var/lib/mysql}
RUN=${OSB_RUN_DIR:-/tmp}
TUNING=${OSB_TUNING_CNF:-/osb/etc/tuning.cnf}
say() { echo "osb restore: $*"; }
fail() {
  echo "osb restore: FAILED: $*" >&2
  exit 1
}
[ -s "$PLAN" ] || fail "no plan at $PLAN (the check did not run)"
id=$(sed -n 's/^backup //p' "$PLAN")
mapfile -t links < <(sed -n 's/^link //p' "$PLAN")
mapfile -t binlogs < <(sed -n 's/^binlog //p' "$PLAN")
start=$(sed -n 's/^start-position //p' "$PLAN")
stop=$(sed -n 's/^stop-datetime //p' "$PLAN")
[ -n "$id" ] && [ "${#links[@]}" -gt 0 ] || fail "the plan at $PLAN is incomplete"

# A fresh volume only (a filesystem's lost+found aside): never mixed with an earlier data dir.
other=$(find "$DATA" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name .osb-restore -print -quit)
[ -z "$other" ] || fail "the data volume is not empty (found ${other#"$DATA"/}); restore into a fresh claim (osb restore --replace deletes the old one)"
work="$DATA/.osb-restore"
rm -rf "$work"
mkdir -p "$work"
say "preparing $id: the full backup${links[1]:+ and $((${#links[@]} - 1)) incremental(s)}"
cp -R "${links[0]}/data" "$work/prepared"
mariadb-backup --no-defaults --prepare --target-dir="$work/prepared" 2>"$work/prepare.log" || {
  tail -n 5 "$work/prepare.log" >&2
  fail "mariadb-backup --prepare of ${links[0]} failed"
}
for incr in "${links[@]:1}"; do
  # --prepare moves files out of the incremental folder: apply a copy, never the backup itself.
  cp -R "$incr/data" "$work/incremental"
  mariadb-backup --no-defaults --prepare --target-dir="$work/prepared" --incremental-dir="$work/incremental" 2>>"$work/prepare.log" || {
    tail -n 5 "$work/prepare.log" >&2
    fail "applying the incremental $incr failed"
  }
  rm -rf "$work/incremental"
done
say "moving the prepared data into the data dir"
mariadb-backup --no-defaults --move-back --force-non-empty-directories --target-dir="$work/prepared" --datadir="$DATA" 2>"$work/move.log" || {
  tail -n 5 "$work/move.log" >&2
  fail "mariadb-backup --move-back failed"
}
rm -rf "$work"
# Nothing of the old server's identity: a new binlog history, no Galera state (pod 0 bootstraps).
rm -f "$DATA/osb-binlog-history" "$DATA/grastate.dat" "$DATA/gvwstate.dat"

sock="$RUN/osb-restore.sock"
say "starting the restored server alone (no network, no Galera, no binlog)"
mariadbd --defaults-file="$TUNING" --datadir="$DATA" --socket="$sock" --pid-file="$RUN/osb-restore.pid" --log-error="$RUN/osb-restore.err" \
  --tmpdir="$RUN" --skip-networking --skip-log-bin --wsrep-on=OFF --wsrep-provider=none &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
export MYSQL_PWD="$MARIADB_ADMIN_PASSWORD"
db() { mariadb --no-defaults --socket="$sock" -u "$OSB_ADMIN_USER" "$@"; }
for _ in $(seq 600); do
  if mariadb-admin --no-defaults --socket="$sock" --connect-timeout=2 ping >/dev/null 2>&1; then break; fi
  kill -0 "$server" 2>/dev/null || {
    tail -n 5 "$RUN/osb-restore.err" >&2 || true
    fail "the restored data does not start as a server"
  }
  sleep 1
done
db -N -B -e 'SELECT 1' >/dev/null 2>"$RUN/login.err" || {
  cat "$RUN/login.err" >&2
  fail "the restored server does not accept the admin password of Secret mariadb-credentials (the backup came from a deployment with other credentials: put its Secrets, or its osb state dir, back first)"
}
if [ "${#binlogs[@]}" -gt 0 ]; then
  say "replaying ${#binlogs[@]} archived binlog file(s) from position $start up to $stop UTC"
  mariadb-binlog --no-defaults --start-position="$start" --stop-datetime="$stop" "${binlogs[@]}" | db --binary-mode --max-allowed-packet=1G ||
    fail "the binlog replay failed (see above)"
fi
kill "$server"
wait "$server" || true
trap - EXIT
say "the data volume holds $id${stop:+ rolled forward to $stop UTC}; pod 0 may bootstrap from it"
