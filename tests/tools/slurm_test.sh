#!/usr/bin/env bash
# make slurm-test: `advise-bench slurm` against a real one-node Slurm (munged + slurmctld + slurmd on localhost).
#
#  1. installs slurm-wlm and munge with apt-get when they are absent (needs root);
#  2. writes a one-node slurm.conf from nproc and free, starts munged, slurmctld and slurmd in a temp folder;
#  3. submits the ci preset as a 2-task array with its dependent report job, waits (bounded), and checks that
#     every (image, method) row is there exactly once and the report counted every image;
#  4. submits it again, scancels task 1 mid-run, requeues it, and checks the resumed run the same way;
#  5. stops the daemons it started, by pid.
# A failure to install or start Slurm is one line saying why; a failed check keeps the temp folder for its logs.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.venv/bin
PRESET=ci
WAIT_S=${SLURM_TEST_WAIT_S:-1200}  # per submission; the ci preset takes a few minutes on 2 cores
STARTED=$SECONDS

TMP=
FAILED=
fail() { echo "slurm-test: $*${TMP:+ (logs in $TMP)}" >&2; FAILED=1; exit 1; }

[ -x "$BIN/advise-bench" ] || fail "$BIN/advise-bench is missing: run make install first"
[ "$(id -u)" = 0 ] || fail "needs root: slurmd runs jobs as their user, and apt-get installs Slurm"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/advise-bench-slurm.XXXXXX")
PIDS=()
JOBS=()
cleanup() {
    local rc=$?
    if [ ${#JOBS[@]} -gt 0 ]; then  # end our jobs first, so no task outlives the daemons
        scancel "${JOBS[@]}" 2>/dev/null || true
        for _ in $(seq 30); do [ -z "$(squeue -h -j "$(IFS=,; echo "${JOBS[*]}")" -t PD,R,CG 2>/dev/null)" ] && break; sleep 1; done
    fi
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$rc" = 0 ]; then rm -rf "$TMP"; elif [ -z "$FAILED" ]; then echo "slurm-test: failed; logs in $TMP" >&2; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- 1. Slurm and munge
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
        || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || fail "Slurm is not installed and there is no apt-get to install slurm-wlm and munge"
    echo "slurm-test: installing slurm-wlm and munge with apt-get"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurm-wlm munge; } >"$TMP/apt.log" 2>&1 \
        || fail "apt-get could not install slurm-wlm and munge: $(grep -m1 -E '^(E|W):' "$TMP/apt.log" || tail -n1 "$TMP/apt.log")"
fi

# ---------------------------------------------------------------- 2. a one-node cluster in $TMP
mkdir -p "$TMP/munge" "$TMP/run" "$TMP/state" "$TMP/spool" "$TMP/logs"
chmod 700 "$TMP/munge"
chmod 755 "$TMP" "$TMP/run"  # munged wants its socket's folder reachable by everyone
head -c 1024 /dev/urandom >"$TMP/munge/munge.key"
chmod 400 "$TMP/munge/munge.key"
munged -F --force --socket="$TMP/run/munge.socket" --key-file="$TMP/munge/munge.key" \
    --pid-file="$TMP/munge/munged.pid" --seed-file="$TMP/munge/munged.seed" --log-file="$TMP/munge/munged.log" \
    >"$TMP/munged.out" 2>&1 &
PIDS+=($!)

NODE=$(hostname -s)
read -r CTLD_PORT SLURMD_PORT < <("$BIN/python" -c "
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(('127.0.0.1', 0))
print(*(s.getsockname()[1] for s in socks))")
export SLURM_CONF="$TMP/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=advise-bench-test
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
# cred_expire: a requeued job waits this long before it may start again (default 120 s)
AuthType=auth/munge
AuthInfo=socket=$TMP/run/munge.socket,cred_expire=15
CredType=cred/munge
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd.pid
SlurmctldLogFile=$TMP/slurmctld.log
SlurmdLogFile=$TMP/slurmd.log
# no cgroups in a container: track processes through /proc, no binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
MinJobAge=3600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$(free -m | awk '/^Mem:/ {print $2}') State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

for _ in $(seq 50); do [ -S "$TMP/run/munge.socket" ] && break; sleep 0.1; done
[ -S "$TMP/run/munge.socket" ] || fail "munged did not start: $(tail -n1 "$TMP/munged.out")"
slurmctld -D -f "$SLURM_CONF" >"$TMP/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" >"$TMP/slurmd.out" 2>&1 &
PIDS+=($!)
state=
for _ in $(seq 60); do
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 1
done
[ "$state" = idle ] || fail "slurmd did not register with slurmctld within 60 s (node state '$state')"
echo "slurm-test: one-node Slurm $(sinfo -V | awk '{print $2}') up in $((SECONDS - STARTED)) s ($(nproc) CPUs)"

# ---------------------------------------------------------------- helpers
submit() {  # submit OUT -> sets ARRAY and REPORT
    local output
    # --cpus-per-task (passed through to sbatch): one task at a time, with every core; two ci runs at
    # once can need more memory than a 24 GiB machine has.
    output=$("$BIN/advise-bench" slurm "$PRESET" --shards 2 --out "$1" --logs "$TMP/logs" \
        --cpus-per-task="$(nproc)") \
        || fail "advise-bench slurm refused to submit"
    echo "$output" | sed 's/^/    /'
    ARRAY=$(echo "$output" | sed -n 's/^array job \([0-9]*\):.*/\1/p')
    REPORT=$(echo "$output" | sed -n 's/^report job \([0-9]*\):.*/\1/p')
    [ -n "$ARRAY" ] && [ -n "$REPORT" ] || fail "no job ids in the output of advise-bench slurm"
    JOBS+=("$ARRAY" "$REPORT")
}

job_state() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 || true; }

wait_for() {  # wait_for DESCRIPTION COMMAND...: until COMMAND succeeds, at most WAIT_S seconds
    local what=$1 deadline=$((SECONDS + WAIT_S))
    shift
    until "$@"; do
        if [ $SECONDS -ge $deadline ]; then
            squeue -t all >&2 || true
            fail "$what: not within $WAIT_S s"
        fi
        sleep 1
    done
}

jobs_done() { [ -z "$(squeue -h -t PD,R,CG,CF,S,RQ -j "$1,$2" 2>/dev/null)" ]; }

expect_completed() {  # expect_completed JOBID...: every job (or array task) ended COMPLETED
    local id state
    for id in "$@"; do
        state=$(squeue -h -t all -j "$id" -o %T | sort -u | tr '\n' ' ')
        [ "$state" = "COMPLETED " ] || fail "job $id ended ${state% }"
    done
}

rows_written() { [ -s "$1" ] && [ "$(wc -l <"$1")" -ge 2 ]; }  # a header and at least one row

# ---------------------------------------------------------------- 3. the ci preset as a 2-task array
echo "slurm-test: submission 1: preset $PRESET, 2 shards, report after the array"
submit "$TMP/results-1"
wait_for "submission 1 (jobs $ARRAY, $REPORT)" jobs_done "$ARRAY" "$REPORT"
expect_completed "$ARRAY" "$REPORT"
"$BIN/python" tests/tools/slurm_check.py "$TMP/results-1" --preset "$PRESET" --shards 2 | sed 's/^/    checked: /'
echo "slurm-test: submission 1 done at $((SECONDS - STARTED)) s"

# ---------------------------------------------------------------- 4. scancel one task mid-run, requeue it
echo "slurm-test: submission 2: scancel task 1 mid-run, then requeue it"
submit "$TMP/results-2"
# Hold the report: with task 1 cancelled, afterany could be met before the requeue and the report run early.
scontrol hold "$REPORT"
wait_for "task ${ARRAY}_1's first row" rows_written "$TMP/results-2/mobilenet_v2/advise.shard-1-of-2.csv"
scancel "${ARRAY}_1"
cancelled() { [ "$(job_state "${ARRAY}_1")" = CANCELLED ]; }
wait_for "task ${ARRAY}_1 cancelled" cancelled
"$BIN/python" tests/tools/slurm_check.py "$TMP/results-2" --preset "$PRESET" --shards 2 --partial 1 \
    | sed 's/^/    checked: /'
scontrol requeue "${ARRAY}_1"
# Release the report only once the requeued task has finished: Slurm may count the task's cancellation as
# the end that afterany waits for (docs/cluster.md tells users to rerun `report` in that case).
task1_completed() { [ "$(job_state "${ARRAY}_1")" = COMPLETED ]; }
wait_for "requeued task ${ARRAY}_1 completed" task1_completed
scontrol release "$REPORT"
wait_for "submission 2 (jobs $ARRAY, $REPORT)" jobs_done "$ARRAY" "$REPORT"
expect_completed "$ARRAY" "$REPORT"
restarts=$(scontrol show job "${ARRAY}_1" | grep -o 'Restarts=[0-9]*' | cut -d= -f2)
[ "$restarts" = 1 ] || fail "task ${ARRAY}_1 restarted $restarts times, expected 1"
"$BIN/python" tests/tools/slurm_check.py "$TMP/results-2" --preset "$PRESET" --shards 2 | sed 's/^/    checked: /'
echo "slurm-test: passed in $((SECONDS - STARTED)) s"
