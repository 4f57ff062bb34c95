#!/usr/bin/env bash
# A local single-node Slurm cluster with accounting, for `make test-slurm`.
#
#   scripts/slurm/cluster.sh install   apt-get the Debian packages (root; skipped where present)
#   scripts/slurm/cluster.sh start     munge, MariaDB, slurmdbd, slurmctld, slurmd (idempotent)
#   scripts/slurm/cluster.sh status    which daemons run; exit 0 only when all five do
#   scripts/slurm/cluster.sh stop      stop every daemon this script started, by its PID file
#   scripts/slurm/cluster.sh env       SLURM_CONF=... for sbatch/squeue/sacct:
#                                      eval "export $(scripts/slurm/cluster.sh env)"
#
# Everything lives under $FT_SLURM_DIR (default /tmp/fashion-transfer-slurm): configs, PID files,
# logs and the database; ports from $FT_SLURM_PORT_BASE (default 16817) up. munge listens at its
# default socket in /run/munge (Slurm's clients look there), and one already answering is used,
# never stopped. Nothing under /etc is written. Clients find the cluster through SLURM_CONF (see
# `env`). Root only: the daemons run as root (SlurmUser=root), munged as the munge user.
#
# Why these settings (measured on Debian 12, Slurm 22.05.8, no systemd and no cgroups):
# - proctrack/linuxproc, task/none, jobacct_gather/none: no cgroup plugins;
# - slurmdbd + MariaDB: submitit reads job states from sacct; without accounting every state is
#   UNKNOWN and a job killed before writing its result (scancel, time limit) never ends;
# - AuthInfo cred_expire=10 and a 1-2 s scheduler: a requeued job starts again in seconds, not
#   after ~2.5 min;
# - EnforcePartLimits=ALL: an impossible request fails at submit instead of pending forever;
# - KillWait=2: a requeued or cancelled job is sent SIGCONT and SIGTERM (which submitit ignores),
#   then SIGKILL 2 s later instead of 30 (measured: the task still ran ~4.5 s after SIGTERM).
set -euo pipefail

STATE=${FT_SLURM_DIR:-/tmp/fashion-transfer-slurm}
CLUSTER=fashiontransfer
CTLD_PORT=${FT_SLURM_PORT_BASE:-16817}
SLURMD_PORT=$((CTLD_PORT + 1))
DBD_PORT=$((CTLD_PORT + 2))
DB_PORT=$((CTLD_PORT + 3))
HOST=$(hostname -s)
CONF=$STATE/etc/slurm.conf
PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)  # start order; stop is the reverse
export SLURM_CONF=$CONF

die() { echo "error: $*" >&2; exit 2; }
log() { echo "cluster: $*"; }

pidfile() { echo "$STATE/run/$1.pid"; }

# The PID in $1's PID file, when that process is alive and runs the expected binary.
running_pid() {
  local file pid
  file=$(pidfile "$1")
  [[ -s $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/comm ]] || return 1
  [[ $(<"/proc/$pid/comm") == "$1"* ]] || return 1
  echo "$pid"
}

# Poll `$2...` until it succeeds; $1 seconds at most.
wait_until() {
  local limit=$1 i
  shift
  for ((i = 0; i < limit * 4; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  return 1
}

cmd_install() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && { log "packages present: ${PACKAGES[*]}"; return 0; }
  command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand"
  [[ $(id -u) == 0 ]] || die "installing ${missing[*]} needs root; run: sudo $0 install"
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" \
    >"${TMPDIR:-/tmp}/fashion-transfer-slurm-apt.log" 2>&1 \
    || die "apt-get install failed; see ${TMPDIR:-/tmp}/fashion-transfer-slurm-apt.log"
}

write_configs() {
  local cpus mem_mb
  cpus=$(nproc)
  mem_mb=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
  mkdir -p "$STATE"/{etc,run,log,ctld,slurmd}
  install -d -m 0755 -o munge -g munge "$STATE/munge"  # munged writes its log as munge
  cat >"$CONF" <<EOF
# Written by scripts/slurm/cluster.sh; regenerated on every start.
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=10
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$(pidfile slurmctld)
SlurmdPidFile=$(pidfile slurmd)
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=bf_interval=1,sched_interval=2
EnforcePartLimits=ALL
ReturnToService=2
KillWait=2
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
JobCompType=jobcomp/none
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
  # slurmdbd reads slurmdbd.conf beside slurm.conf; it must be private to SlurmUser.
  (
    umask 077
    cat >"$STATE/etc/slurmdbd.conf" <<EOF
# Written by scripts/slurm/cluster.sh; regenerated on every start.
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$(pidfile slurmdbd)
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
  )
}

munge_ok() { munge -n | unmunge; }
db_ok() { mariadb-admin --socket="$STATE/mysql.sock" ping; }
dbd_ok() { sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; }
ctld_ok() { scontrol ping | grep -q UP; }
node_ok() { sinfo -h -n "$HOST" -o %t | grep -Eq '^(idle|mix|alloc)'; }

start_munged() {
  # Slurm's clients reach munge at its default socket, /run/munge/munge.socket.2 (a socket= in
  # AuthInfo is not honoured on the way to slurmdbd); without systemd nothing creates /run/munge.
  if munge_ok >/dev/null 2>&1; then
    log "munge already answers at /run/munge (not started here, so never stopped here)"
    return 0
  fi
  install -d -m 0755 -o munge -g munge /run/munge
  rm -f /run/munge/munged.pid  # a dead munged's
  runuser -u munge -- munged --log-file="$STATE/munge/munged.log" \
    --pid-file=/run/munge/munged.pid
  wait_until 10 test -s /run/munge/munged.pid || die "munged did not start; see $STATE/munge/munged.log"
  cp /run/munge/munged.pid "$(pidfile munged)"
  wait_until 10 munge_ok || die "munge does not answer; see $STATE/munge/munged.log"
}

start_mariadbd() {
  if [[ ! -d $STATE/mysql/mysql ]]; then
    mariadb-install-db --no-defaults --user=root --datadir="$STATE/mysql" --skip-test-db \
      --auth-root-authentication-method=socket >"$STATE/log/mariadb-install.log" 2>&1 \
      || die "mariadb-install-db failed; see $STATE/log/mariadb-install.log"
  fi
  setsid mariadbd --no-defaults --user=root --datadir="$STATE/mysql" \
    --socket="$STATE/mysql.sock" --port="$DB_PORT" --bind-address=127.0.0.1 \
    --pid-file="$(pidfile mariadbd)" --log-error="$STATE/log/mariadb.log" \
    --innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 &
  wait_until 60 db_ok || die "MariaDB did not start; see $STATE/log/mariadb.log"
  mariadb --socket="$STATE/mysql.sock" -u root <<'EOF'
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
EOF
}

start_slurmdbd() {
  slurmdbd || die "slurmdbd did not start; see $STATE/log/slurmdbd.log"
  wait_until 30 sacctmgr -n list cluster || die "slurmdbd does not answer; see $STATE/log/slurmdbd.log"
  dbd_ok || sacctmgr -i add cluster "$CLUSTER" >/dev/null
}

start_slurmctld() {
  slurmctld || die "slurmctld did not start; see $STATE/log/slurmctld.log"
  wait_until 30 ctld_ok || die "slurmctld does not answer; see $STATE/log/slurmctld.log"
}

start_slurmd() {
  slurmd -N "$HOST" || die "slurmd did not start; see $STATE/log/slurmd.log"
  wait_until 30 node_ok || die "node $HOST not up; see $STATE/log/slurmd.log and slurmctld.log"
}

cmd_start() {
  [[ $(id -u) == 0 ]] || die "the local cluster runs its daemons as root; run: sudo $0 start"
  for bin in munged mariadbd slurmdbd slurmctld slurmd sbatch sacct; do
    command -v "$bin" >/dev/null || die "$bin not found; run: $0 install"
  done
  write_configs
  for d in "${DAEMONS[@]}"; do
    if pid=$(running_pid "$d"); then
      log "$d already running (pid $pid)"
    else
      "start_$d"
      if pid=$(running_pid "$d"); then log "$d started (pid $pid)"; fi
    fi
  done
  dbd_ok || die "cluster $CLUSTER not registered in slurmdbd; see $STATE/log/slurmctld.log"
  log "up: $(sinfo -h -o '%P %D node(s) %t') ($(sinfo -V)); export SLURM_CONF=$CONF"
}

cmd_stop() {
  local pid i d
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    d=${DAEMONS[i]}
    if pid=$(running_pid "$d"); then
      kill -TERM "$pid"
      wait_until 30 bash -c "! kill -0 $pid" || { kill -KILL "$pid" 2>/dev/null || true; }
      log "$d stopped (pid $pid)"
    fi
    rm -f "$(pidfile "$d")"
  done
}

cmd_status() {
  local down=0
  for d in "${DAEMONS[@]}"; do
    if pid=$(running_pid "$d"); then
      log "$d running (pid $pid)"
    else
      log "$d not running"
      down=1
    fi
  done
  ((down == 0)) && log "$(sinfo -h -o '%P %D node(s) %t' 2>/dev/null)"
  return $down
}

case ${1:-} in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) echo "SLURM_CONF=$CONF" ;;
  *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
