#!/bin/bash
# osb: one scheduled physical backup of MariaDB on Kubernetes (CronJob `mariadb-backup`; see docs/backup.md).
# Receives the backup agent's mbstream from the pod `pick` chose, unpacks it onto the backups PVC in the
# folder layout and manifest format of `osb backup` (<id>/mariadb/data/, <id>/manifest.json, with the pod's
# binlog history when backup.pitr is on), written as .<id>.partial and renamed when whole, then keeps the
# newest $OSB_KEEP_COUNT full backups (if set; archived binlogs are not pruned).
set -euo pipefail
umask 077
root="${OSB_BACKUP_ROOT:-/backups}"
read -r node ip < "$OSB_TARGET_FILE"
started=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
id="$(date -u +%Y%m%dT%H%M%S%3NZ)-full"
partial="$root/.$id.partial"
data="$partial/mariadb/data"
mkdir -p "$data"
trap 'rm -rf "$partial"' EXIT
echo "osb: backup $id from $node ($ip:$OSB_BACKUP_PORT)"
exec 3<>"/dev/tcp/$ip/$OSB_BACKUP_PORT"
printf '%s\nbackup\n' "$OSB_BACKUP_TOKEN" >&3
# The agent's first line names the pod's binlog history (backup.pitr); bash reads a socket byte by byte,
# so the mbstream that follows is left whole.
history=-
if IFS= read -r -t 60 header <&3; then history=${header#history }; fi
mbstream -x -C "$data" <&3
exec 3<&-

# Whole only if mariadb-backup got to its last files (the checkpoints are written at the very end).
info() { for n in "mariadb_backup_$1" "xtrabackup_$1"; do if [ -f "$data/$n" ]; then cat "$data/$n"; return 0; fi; done; return 1; }
checkpoints=$(info checkpoints) || { echo "osb: the stream from $node ended before the backup was complete (no checkpoints file); see the backup-agent log of $node" >&2; exit 1; }
if [ "${OSB_GALERA:-0}" = 1 ] && ! info galera_info >/dev/null; then echo "osb: no galera_info in the backup from $node" >&2; exit 1; fi

esc() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
kv() { # "a = b" lines → JSON object of strings
  local first=1 k v
  printf '{'
  while IFS='=' read -r k v; do
    k=$(echo "$k" | xargs); v=$(echo "$v" | xargs)
    [ -n "$k" ] || continue
    [ $first = 1 ] || printf ','
    first=0
    printf '%s:%s' "$(esc "$k")" "$(esc "$v")"
  done
  printf '}'
}
binlog=null
if b=$(info binlog_info) && [ -n "$b" ]; then
  read -r bfile bpos bgtid <<< "$b"
  binlog="{\"file\":$(esc "${bfile##*/}"),\"position\":${bpos}${bgtid:+,\"gtid\":$(esc "$bgtid")}}"
fi
galera=""
# "uuid:seqno", followed by the wsrep GTID when wsrep_gtid_mode is on (backup.pitr).
if g=$(info galera_info) && [ -n "$g" ]; then
  g=${g%%[[:space:]]*}
  galera=",\"galera\":{\"uuid\":$(esc "${g%%:*}"),\"seqno\":${g##*:}}"
fi
server=$( (info info || true) | sed -n 's/^server_version = //p' | head -1)
# Point-in-time restore reads binlogs/<history>/<node>/ from this position on (the archiver's folders).
pitr=""
if [ "$binlog" != null ] && [ -n "$history" ] && [ "$history" != - ]; then pitr=",\"binlogHistory\":$(esc "$history")"; fi

files=""
total=0
cd "$partial"
while IFS= read -r -d '' f; do
  f=${f#./}
  size=$(stat -c %s "$f")
  sum=$(sha256sum "$f" | cut -d' ' -f1)
  total=$((total + size))
  files+="${files:+,}{\"path\":$(esc "$f"),\"size\":$size,\"sha256\":\"$sum\"}"
done < <(find . -type f -print0 | sort -z)
finished=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
cat > manifest.json <<JSON
{"format":1,"id":"$id","kind":"full","startedAt":"$started","finishedAt":"$finished","osbVersion":$(esc "$OSB_VERSION"),"takenBy":"kubernetes CronJob mariadb-backup","userValues":{},"components":{"mariadb":{"node":$(esc "$node"),"serverVersion":$(esc "$server"),"binlog":$binlog$galera$pitr,"checkpoints":$(printf '%s\n' "$checkpoints" | kv)}},"files":[$files],"totalBytes":$total}
JSON
cd "$root"
mv "$partial" "$root/$id"
trap - EXIT
echo "osb: backup $id complete: $total bytes"

# Retention: whole backups only, oldest first; the one just taken is never removed.
if [ -n "${OSB_KEEP_COUNT:-}" ]; then
  mapfile -t all < <(find "$root" -mindepth 1 -maxdepth 1 -type d -name '*-full' ! -name '.*' -printf '%f\n' | sort)
  excess=$(( ${#all[@]} - OSB_KEEP_COUNT ))
  for ((i = 0; i < excess; i++)); do
    [ "${all[$i]}" != "$id" ] || continue
    echo "osb: retention (backup.keep.count=$OSB_KEEP_COUNT): removing ${all[$i]}"
    rm -rf "${root:?}/${all[$i]}"
  done
fi
find "$root" -mindepth 1 -maxdepth 1 -name '.*.partial' -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
