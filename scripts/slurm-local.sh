#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, run as the caller's own processes, for the
# integration test of `htl run --executor slurm` (tests/slurm.rs, started by .ci/run).
#
#   scripts/slurm-local.sh install        install Debian's slurm-wlm and munge (apt) if missing
#   scripts/slurm-local.sh start DIR      install if needed, then start munged, slurmctld and
#                                         slurmd with every file (config, key, socket, state,
#                                         spool, logs, pids) under DIR; waits until the node is
#                                         idle; writes DIR/env.sh (`export SLURM_CONF=…`)
#   scripts/slurm-local.sh stop DIR       stop slurmd, slurmctld and munged (in that order, by
#                                         pid) and wait until they are gone
#
# Needs root (it writes the munge key as user `munge` and runs the daemons as root). Nothing
# is installed as a service and nothing outside DIR is written (apart from the apt install).
# Facts this relies on (measured on a Debian 12 container whose PID 1 is not systemd):
#   * the package scripts start no daemon, so all three are started here, in the foreground
#     of their own sessions (`setsid … -D`), and stopped by pid;
#   * every client command needs SLURM_CONF (else it tries a DNS SRV lookup and fails);
#   * there is no accounting storage: jobs are watched with `squeue` / `scontrol`;
#   * `batch_sched_delay=0` makes the turnaround of a tiny job < 1 s (3 s by default);
#   * `kill_invalid_depend`: a dependency that can never be satisfied cancels the job
#     instead of leaving it pending forever;
#   * stopped daemons stay zombies for a moment: state `Z` counts as gone.
# Environment: SLURM_LOCAL_MAX_ARRAY_SIZE (MaxArraySize, default 1001), SLURM_LOCAL_PORT
# (slurmctld's port; slurmd uses the next one; default 6817).
set -euo pipefail

die() {
  echo "slurm-local: $*" >&2
  exit 1
}

install() {
  if command -v sbatch >/dev/null && command -v slurmctld >/dev/null \
    && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "installing slurm-wlm and munge needs root (apt-get)"
  command -v apt-get >/dev/null || die "apt-get not found: install slurm-wlm and munge by hand"
  echo "slurm-local: installing slurm-wlm and munge (apt)" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurm-wlm munge >/dev/null
}

# True while pid $1 is a live (non-zombie) process.
alive() {
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null | tr -d ' ')" || return 1
  [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

wait_gone() {
  local pid="$1" i
  for i in $(seq 1 100); do
    alive "$pid" || return 0
    sleep 0.1
  done
  return 1
}

start() {
  local dir="$1"
  install
  [ "$(id -u)" -eq 0 ] || die "start needs root (munged runs as user munge, the daemons as root)"
  id munge >/dev/null 2>&1 || die "user munge does not exist; is the munge package installed?"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  [ ! -e "$dir/slurmctld.pid" ] || die "$dir already holds a cluster; stop it first: $0 stop $dir"
  # munged checks that its folders are not writable by others and owned by its user.
  chmod 755 "$dir"
  mkdir -p "$dir/munge"
  chown munge:munge "$dir/munge"
  chmod 700 "$dir/munge"
  runuser -u munge -- mungekey -c -k "$dir/munge/munge.key"
  chmod 600 "$dir/munge/munge.key"
  runuser -u munge -- munged \
    --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/munged.seed" --force
  for _ in $(seq 1 50); do [ -S "$dir/munge/munge.socket" ] && break; sleep 0.1; done
  [ -S "$dir/munge/munge.socket" ] || die "munged did not start; see $dir/munge/munged.log"
  # munged's socket folder must be reachable by slurm (root) — it is.

  local host node port
  host="$(hostname -s)"
  node="$host"
  port="${SLURM_LOCAL_PORT:-6817}"
  # The node's hardware as slurmd sees it (CPUs, sockets, cores, threads, memory).
  node_hw="$(slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]* //')"
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"
  cat >"$dir/slurm.conf" <<EOF
# Written by scripts/slurm-local.sh: a one-node test cluster under $dir.
ClusterName=htllocal
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
SchedulerParameters=batch_sched_delay=0
DependencyParameters=kill_invalid_depend
MaxArraySize=${SLURM_LOCAL_MAX_ARRAY_SIZE:-1001}
MinJobAge=600
KillWait=5
NodeName=$node NodeAddr=127.0.0.1 $node_hw State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  echo "export SLURM_CONF=$dir/slurm.conf" >"$dir/env.sh"
  export SLURM_CONF="$dir/slurm.conf"
  setsid slurmctld -D -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 </dev/null &
  echo $! >"$dir/slurmctld.pid.own"
  setsid slurmd -D -f "$SLURM_CONF" -N "$node" >"$dir/log/slurmd.out" 2>&1 </dev/null &
  echo $! >"$dir/slurmd.pid.own"
  local state=""
  for _ in $(seq 1 150); do
    state="$(sinfo -h -n "$node" -o %T 2>/dev/null || true)"
    [ "$state" = "idle" ] && break
    sleep 0.2
  done
  if [ "$state" != "idle" ]; then
    echo "slurm-local: the node did not become idle (state: '${state:-none}'); logs:" >&2
    tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" "$dir/log/"*.out >&2 || true
    stop "$dir" || true
    exit 1
  fi
  echo "slurm-local: cluster up in $dir (node $node idle); source $dir/env.sh" >&2
}

stop() {
  local dir="$1" f pid
  [ -d "$dir" ] || die "no such folder: $dir"
  for f in slurmd.pid.own slurmctld.pid.own munge/munged.pid; do
    [ -f "$dir/$f" ] || continue
    pid="$(cat "$dir/$f")"
    if alive "$pid"; then
      kill "$pid" 2>/dev/null || true
      wait_gone "$pid" || { kill -9 "$pid" 2>/dev/null || true; wait_gone "$pid" || true; }
    fi
    rm -f "$dir/$f"
  done
  rm -f "$dir/slurmctld.pid" "$dir/slurmd.pid"
  echo "slurm-local: stopped the cluster in $dir" >&2
}

case "${1:-}" in
  install) install ;;
  start) [ $# -eq 2 ] || die "usage: $0 start DIR"; start "$2" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
  *) die "usage: $0 install | start DIR | stop DIR" ;;
esac
