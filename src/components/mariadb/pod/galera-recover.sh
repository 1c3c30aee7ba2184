#!/bin/bash
# osb: the `galera-recover` init container (MariaDB image), see docs/kubernetes.md.
# Finds this pod's last committed position without starting a server — grastate.dat after a clean
# stop, `mariadbd --wsrep-recover` after a crash — and writes $RUN/position.json for the coordinator.
# OSB_DATA_DIR and OSB_RUN_DIR replace the pod's paths outside a pod.
set -eu
D=${OSB_DATA_DIR:-/var/lib/mysql}
RUN=${OSB_RUN_DIR:-/run/osb}
has=false uuid='' seqno=-1 safe=false
field() { sed -n "s/^$1:[[:space:]]*//p" "$D/grastate.dat" | head -1; }
if [ -f "$D/grastate.dat" ] || [ -d "$D/mysql" ]; then
  has=true
  if [ -f "$D/grastate.dat" ]; then
    uuid=$(field uuid); seqno=$(field seqno); seqno=${seqno:--1}
    [ "$(field safe_to_bootstrap)" = 1 ] && safe=true
  fi
  if [ "$seqno" = -1 ]; then
    rm -f "$RUN/recover.log"
    # A cluster address is required with wsrep_sst_method=mariabackup even to recover ("mariabackup SST
    # method requires wsrep_cluster_address"): an empty one, the server only recovers and exits.
    mariadbd --wsrep-recover --wsrep-cluster-address=gcomm:// --log-error="$RUN/recover.log" >>"$RUN/recover.log" 2>&1 || true
    pos=$(sed -n 's/.*WSREP: Recovered position: *//p' "$RUN/recover.log" 2>/dev/null | tail -1)
    if [ -n "$pos" ]; then uuid=${pos%%:*}; seqno=${pos##*:}; else tail -n 5 "$RUN/recover.log" >&2 || true; fi
  fi
fi
case "$uuid" in 00000000-0000-0000-0000-000000000000) uuid='';; esac
case "$seqno" in ''|*[!0-9-]*) seqno=-1;; esac
printf '{"hasData":%s,"uuid":"%s","seqno":%s,"safeToBootstrap":%s}\n' "$has" "$uuid" "$seqno" "$safe" > "$RUN/position.json"
cat "$RUN/position.json"
