# Shared by scripts/cluster/up and down: a one-machine cluster whose every file lives in one state folder
# (config, logs, databases, sockets) and whose every daemon listens on loopback only.
# Components, in start order: munge mariadb slurmdbd slurm postgres mlflow.
set -euo pipefail

COMPONENTS=(munge mariadb slurmdbd slurm postgres mlflow)
STATE=${ASTRO_CLUSTER_DIR:-/tmp/astro-cluster}
PYTHON=${PYTHON:-python3}
PORT_SLURMCTLD=${ASTRO_PORT_SLURMCTLD:-16817}
PORT_SLURMD=${ASTRO_PORT_SLURMD:-16818}
PORT_SLURMDBD=${ASTRO_PORT_SLURMDBD:-16819}
PORT_MARIADB=${ASTRO_PORT_MARIADB:-13306}
PORT_POSTGRES=${ASTRO_PORT_POSTGRES:-15432}
PORT_MLFLOW=${ASTRO_PORT_MLFLOW:-15000}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
NODE=$(hostname -s)
PG_URL="postgresql://astro:astro@127.0.0.1:${PORT_POSTGRES}"

say() { echo "cluster: $*" >&2; }
die() { say "$*"; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND once a second until it succeeds.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq "$seconds"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  die "$what did not come up within ${seconds}s (logs: $STATE/log)"
}

# stop_pid NAME PIDFILE: TERM the daemon named in PIDFILE and wait for it to exit.
stop_pid() {
  local name=$1 file=$2 pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    say "$name stopped"
  fi
  rm -f "$file"
}

write_env() {
  cat >"$STATE/env" <<ENV
# source this file: the cluster's client settings
export SLURM_CONF=$STATE/etc/slurm.conf
export MLFLOW_TRACKING_URI=http://127.0.0.1:${PORT_MLFLOW}
export ASTRO_OPTUNA_STORAGE=${PG_URL}/optuna
ENV
}

# --- munge: the state folder's own key, on munge's default socket (Slurm's clients, sacctmgr among them,
# find it there without configuration).
MUNGE_SOCKET=/run/munge/munge.socket.2
start_munge() {
  mkdir -p /run/munge
  mkdir -p "$STATE/munge" && chmod 700 "$STATE/munge"
  [ -s "$STATE/munge/munge.key" ] || { dd if=/dev/urandom bs=1 count=1024 of="$STATE/munge/munge.key" 2>/dev/null; chmod 400 "$STATE/munge/munge.key"; }
  munged --force --key-file="$STATE/munge/munge.key" --socket="$MUNGE_SOCKET" \
    --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/log/munged.log" --seed-file="$STATE/munge/seed"
  wait_for 10 munge munge -n
}
stop_munge() { stop_pid munge "$STATE/munge/munged.pid"; }

# --- MariaDB: slurmdbd's accounting database (sacct is how submitit reads job states).
start_mariadb() {
  if [ ! -d "$STATE/mysql/mysql" ]; then
    mariadb-install-db --datadir="$STATE/mysql" --user=root --auth-root-authentication-method=normal \
      --skip-test-db >"$STATE/log/mariadb-install.log" 2>&1
  fi
  mariadbd --no-defaults --user=root --datadir="$STATE/mysql" --socket="$STATE/mysql.sock" \
    --bind-address=127.0.0.1 --port="$PORT_MARIADB" --pid-file="$STATE/mariadb.pid" \
    --log-error="$STATE/log/mariadb.log" --innodb-buffer-pool-size=64M >/dev/null 2>&1 &
  wait_for 60 MariaDB mariadb --socket="$STATE/mysql.sock" -e "select 1"
  mariadb --socket="$STATE/mysql.sock" -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
}
stop_mariadb() { stop_pid MariaDB "$STATE/mariadb.pid"; }

# --- slurmdbd
start_slurmdbd() {
  mkdir -p "$STATE/etc"
  cat >"$STATE/etc/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdPort=$PORT_SLURMDBD
SlurmUser=root
LogFile=$STATE/log/slurmdbd.log
PidFile=$STATE/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$PORT_MARIADB
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
CONF
  chmod 600 "$STATE/etc/slurmdbd.conf"
  write_slurm_conf
  # slurmdbd reads slurmdbd.conf from the folder of SLURM_CONF
  SLURM_CONF="$STATE/etc/slurm.conf" slurmdbd
  wait_for 60 slurmdbd env SLURM_CONF="$STATE/etc/slurm.conf" sacctmgr -n list cluster
  SLURM_CONF="$STATE/etc/slurm.conf" sacctmgr -i -Q add cluster astro >/dev/null 2>&1 || true
}
stop_slurmdbd() { stop_pid slurmdbd "$STATE/slurmdbd.pid"; }

# --- Slurm: one node (this machine, its real CPUs and memory), one default partition.
write_slurm_conf() {
  mkdir -p "$STATE/etc" "$STATE/slurmctld" "$STATE/slurmd"
  local node
  node=$(slurmd -C | head -n 1 | sed 's/ *$//')
  cat >"$STATE/etc/slurm.conf" <<CONF
ClusterName=astro
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT_SLURMCTLD
SlurmdPort=$PORT_SLURMD
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$PORT_SLURMDBD
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
KillWait=30
MinJobAge=300
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
}
start_slurm() {
  write_slurm_conf
  export SLURM_CONF="$STATE/etc/slurm.conf"
  slurmctld
  wait_for 30 slurmctld scontrol ping
  slurmd
  wait_for 60 "slurmd (node idle)" bash -c "sinfo -h -N -o %t | grep -qE '^(idle|mix|alloc)'"
}
stop_slurm() {
  stop_pid slurmd "$STATE/slurmd.pid"
  stop_pid slurmctld "$STATE/slurmctld.pid"
}

# --- PostgreSQL: a cluster of this script's own, run as the postgres user (it refuses root) in a data
# folder that user can reach (pytest's tmp folders are root-only), recorded in $STATE/pgdata.
start_postgres() {
  [ -n "$PG_BIN" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
  local data
  if [ -s "$STATE/pgdata" ]; then data=$(cat "$STATE/pgdata"); else
    data=$(mktemp -d /tmp/astro-pg.XXXXXX) && echo "$data" >"$STATE/pgdata"
    chown postgres: "$data"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$data/db" -U postgres --auth=trust >"$STATE/log/initdb.log"
  fi
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data/db" -l "$data/postgres.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $PORT_POSTGRES -k $data" >/dev/null
  local psql=(psql -h 127.0.0.1 -p "$PORT_POSTGRES" -U postgres -v ON_ERROR_STOP=1 -qtA)
  "${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='astro'" | grep -q 1 \
    || "${psql[@]}" -c "CREATE ROLE astro LOGIN PASSWORD 'astro'"
  for db in optuna mlflow; do
    "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
      || "${psql[@]}" -c "CREATE DATABASE $db OWNER astro"
  done
}
stop_postgres() {
  [ -s "$STATE/pgdata" ] || return 0
  local data
  data=$(cat "$STATE/pgdata")
  [ -f "$data/db/postmaster.pid" ] || return 0
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data/db" -m fast -w stop >/dev/null && say "PostgreSQL stopped"
}

# --- mlflow server: PostgreSQL backend store, artifacts proxied into the state folder.
start_mlflow() {
  "$PYTHON" -m mlflow server --backend-store-uri "$PG_URL/mlflow" \
    --artifacts-destination "$STATE/mlartifacts" --host 127.0.0.1 --port "$PORT_MLFLOW" --workers 1 \
    >"$STATE/log/mlflow.log" 2>&1 &
  echo $! >"$STATE/mlflow.pid"
  wait_for 180 "mlflow server" curl -sf "http://127.0.0.1:$PORT_MLFLOW/health"
}
stop_mlflow() { stop_pid "mlflow server" "$STATE/mlflow.pid"; }

# selected NAME...: the components asked for (all when none), checked against COMPONENTS.
selected() {
  local name
  for name in "$@"; do
    [[ " ${COMPONENTS[*]} " == *" $name "* ]] || die "unknown component '$name' (one of: ${COMPONENTS[*]})"
  done
  if [ $# -eq 0 ]; then echo "${COMPONENTS[@]}"; else echo "$@"; fi
}
