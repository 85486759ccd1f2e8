#!/usr/bin/env bash
# `npm run slurm:up`: a one-node Slurm cluster on this machine for conno's Slurm tests.
#
# Installs Debian's slurm-wlm, slurmdbd, munge and mariadb-server if missing, writes a
# configuration for one node on localhost (all CPUs, 2 GPUs declared as gres so GPU requests can
# be scheduled, accounting through slurmdbd so that `sacct` works), starts munged, MariaDB,
# slurmdbd, slurmctld and slurmd, and waits until the node accepts jobs. Needs root.
# `npm run slurm:down` stops the daemons. Daemon logs: /var/log/conno-slurm/.
set -euo pipefail

STATE=/var/lib/conno-slurm
LOGS=/var/log/conno-slurm
CONF=/etc/slurm
MARK="# written by conno's scripts/slurm/up.sh"
CLUSTER=conno-test

if [ "$(id -u)" != 0 ]; then
  echo "slurm:up needs root (it installs packages and starts system daemons)" >&2
  exit 2
fi

need=()
for cmd in slurmctld:slurmctld slurmd:slurmd slurmdbd:slurmdbd sbatch:slurm-client munged:munge mariadbd:mariadb-server; do
  command -v "${cmd%%:*}" >/dev/null || need+=("${cmd#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "slurm:up: installing ${need[*]} (Debian packages)…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm slurmdbd munge mariadb-server >/dev/null
fi

if [ -f "$CONF/slurm.conf" ] && ! grep -qF "$MARK" "$CONF/slurm.conf"; then
  echo "slurm:up: $CONF/slurm.conf exists and was not written by this script; not touching a real cluster's configuration" >&2
  exit 2
fi

mkdir -p "$STATE/ctld" "$STATE/d" "$LOGS" "$CONF" /run/munge /var/run/slurm
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)

# munge: one key on this one node.
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged --force
fi

# MariaDB for slurmdbd's accounting.
if ! pgrep -x mariadbd >/dev/null && ! pgrep -x mysqld >/dev/null; then
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  (setsid /usr/bin/mysqld_safe --user=mysql >"$LOGS/mariadb.log" 2>&1 &)
fi
for _ in $(seq 1 60); do mariadb -uroot -e 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
mariadb -uroot <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'conno-test';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
SQL

cat >"$CONF/slurmdbd.conf" <<CFG
$MARK
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$STATE/slurmdbd.pid
LogFile=$LOGS/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=conno-test
StorageLoc=slurm_acct_db
CFG
chmod 0600 "$CONF/slurmdbd.conf"

cat >"$CONF/slurm.conf" <<CFG
$MARK
ClusterName=$CLUSTER
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=60
SchedulerParameters=sched_interval=1
DefMemPerCPU=512
NodeName=$host CPUs=$cpus RealMemory=$mem Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CFG

# Two GPUs for the scheduler: this machine may have none, so the gres files are stand-in device
# nodes (same numbers as /dev/null). Jobs that ask for GPUs are scheduled and get
# CUDA_VISIBLE_DEVICES; nothing runs on a real GPU.
for i in 0 1; do [ -e "$STATE/gpu$i" ] || mknod "$STATE/gpu$i" c 1 3; done
cat >"$CONF/gres.conf" <<CFG
$MARK
AutoDetect=off
NodeName=$host Name=gpu File=$STATE/gpu[0-1]
CFG

pgrep -x slurmdbd >/dev/null || /usr/sbin/slurmdbd
for _ in $(seq 1 60); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.5; done
sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd

for _ in $(seq 1 60); do
  state=$(sinfo -h -N -o '%T' 2>/dev/null | head -1)
  case "$state" in idle|mixed|allocated) break ;; esac
  sleep 0.5
done
if ! sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)$'; then
  scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
  sleep 1
fi
state=$(sinfo -h -N -o '%T' 2>/dev/null | head -1 || true)
case "$state" in
  idle|mixed|allocated) ;;
  *)
    echo "slurm:up: the node did not become ready (state: ${state:-unknown}); daemon logs:" >&2
    tail -n 30 "$LOGS"/*.log >&2 || true
    exit 1
    ;;
esac
# sacct must answer (accounting), or the executor cannot follow its jobs.
for _ in $(seq 1 30); do sacct -n -X -S now-1minute >/dev/null 2>&1 && break; sleep 0.5; done
sacct -n -X -S now-1minute >/dev/null
echo "slurm:up: one-node cluster '$CLUSTER' on $host: $cpus CPUs, ${mem} MB, gres gpu:2 (logs: $LOGS)"
