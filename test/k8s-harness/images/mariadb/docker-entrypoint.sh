#!/bin/bash
# osb test rig: a MINIMAL stand-in for the official mariadb:10.11 image's docker-entrypoint.sh, which is
# not on this machine. Written for the rig from the documented behaviour of that entrypoint; it does
# only what osb's start.sh relies on:
#   - `docker-entrypoint.sh mariadbd ARGS...`: when the data dir has no `mysql` schema, insist on a root
#     password option, run mariadb-install-db (root@localhost without password, reachable only over the
#     socket), start a temporary server without networking and with wsrep off, drop the root accounts for
#     other hosts, source/run /docker-entrypoint-initdb.d/* with `docker_process_sql` defined, then set
#     root@localhost's password to MARIADB_ROOT_PASSWORD_HASH, stop the temporary server;
#   - then `exec "$@"` (also when the data dir exists).
# NOT done here (gaps against the real image): tz tables, MARIADB_DATABASE/USER, replication users,
# healthcheck users and .my-healthcheck.cnf, upgrades (MARIADB_AUTO_UPGRADE), restore from backups,
# *_FILE variables, running as root and dropping to mysql with gosu.
set -eo pipefail
shopt -s nullglob
note() { printf '%s [Note] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
fail() { printf '%s [ERROR] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2; exit 1; }

if [ "${1:0:1}" = '-' ]; then set -- mariadbd "$@"; fi
if [ "$1" != mariadbd ] && [ "$1" != mysqld ]; then exec "$@"; fi

note "entrypoint stand-in (osb test rig) for $*"
"$@" --verbose --help >/dev/null 2>"/tmp/.entrypoint-check.$$" || { cat "/tmp/.entrypoint-check.$$" >&2; fail "mariadbd failed while checking the config"; }
rm -f "/tmp/.entrypoint-check.$$"
setting() { "$@" --verbose --help 2>/dev/null | awk -v k="$KEY" '$1 == k && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }'; }
DATADIR=$(KEY=datadir setting "$@")
SOCKET=$(KEY=socket setting "$@")
DATADIR=${DATADIR%/}

docker_process_sql() {
  local pw=''
  if [ "${1:-}" = --dont-use-mysql-root-password ]; then shift; fi
  MYSQL_PWD=$pw mariadb --protocol=socket -uroot -hlocalhost --socket="$SOCKET" "$@"
}

if [ ! -d "$DATADIR/mysql" ]; then
  if [ -z "${MARIADB_ROOT_PASSWORD:-}${MARIADB_ROOT_PASSWORD_HASH:-}${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-}${MARIADB_RANDOM_ROOT_PASSWORD:-}" ]; then
    fail 'Database is uninitialized and password option is not specified'
  fi
  [ -z "${MARIADB_ROOT_PASSWORD:-}" ] || fail 'this stand-in supports only MARIADB_ROOT_PASSWORD_HASH'
  note "Initializing database files"
  mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal "${@:2}" \
    --skip-test-db --default-time-zone=SYSTEM --skip-log-bin --expire-logs-days=0 >/dev/null
  note "Starting temporary server"
  "$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" --wsrep_on=OFF --expire-logs-days=0 &
  pid=$!
  for i in $(seq 30 -1 0); do
    if docker_process_sql --database=mysql <<<'SELECT 1' >/dev/null 2>&1; then break; fi
    [ "$i" != 0 ] || fail "Unable to start server."
    sleep 1
  done
  docker_process_sql --database=mysql --binary-mode <<EOSQL
SET @@SESSION.SQL_LOG_BIN=0;
DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname,'\'');
EOSQL
  if [ -n "${MARIADB_ROOT_HOST:-}" ] && [ "$MARIADB_ROOT_HOST" != localhost ]; then
    docker_process_sql --binary-mode <<EOSQL
CREATE USER 'root'@'${MARIADB_ROOT_HOST}' IDENTIFIED BY PASSWORD '${MARIADB_ROOT_PASSWORD_HASH}';
GRANT ALL ON *.* TO 'root'@'${MARIADB_ROOT_HOST}' WITH GRANT OPTION;
EOSQL
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) if [ -x "$f" ]; then note "running $f"; "$f"; else note "sourcing $f"; . "$f"; fi ;;
      *.sql) note "running $f"; docker_process_sql < "$f" ;;
      *) note "ignoring $f" ;;
    esac
  done
  if [ -n "${MARIADB_ROOT_PASSWORD_HASH:-}" ]; then
    note "Setting root@localhost password hash"
    docker_process_sql --binary-mode <<EOSQL
SET @@SESSION.SQL_LOG_BIN=0;
SET PASSWORD FOR 'root'@'localhost'= '${MARIADB_ROOT_PASSWORD_HASH}';
EOSQL
  fi
  note "Stopping temporary server"
  kill "$pid"
  wait "$pid" || true
  note "MariaDB init process done. Ready for start up."
fi
exec "$@"
