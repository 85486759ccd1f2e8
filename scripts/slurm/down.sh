#!/usr/bin/env bash
# `npm run slurm:down`: stop the cluster that `npm run slurm:up` started.
set -uo pipefail
STATE=/var/lib/conno-slurm
for d in slurmd slurmctld slurmdbd; do
  if [ -f "$STATE/$d.pid" ]; then kill "$(cat "$STATE/$d.pid")" 2>/dev/null; fi
  pkill -x "$d" 2>/dev/null
done
if [ -S /run/mysqld/mysqld.sock ]; then mariadb-admin -uroot shutdown 2>/dev/null; fi
pkill -x munged 2>/dev/null
for _ in $(seq 1 20); do
  alive=0
  for p in slurmd slurmctld slurmdbd mariadbd munged; do pgrep -x "$p" >/dev/null && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.5
done
echo "slurm:down: stopped"
exit 0
