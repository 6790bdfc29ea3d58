# Sourced by the bench scripts (they set `root`, the repository, and `HTL`, the binary).
#
# wait_quiet: with WAIT_QUIET=<load> (e.g. 0.3), waits (up to WAIT_MAX seconds, default
# 1800) until the 1-minute load average is below <load> and no cargo / rustc process runs,
# so that measurements do not share the cores.
wait_quiet() {
    [ -n "${WAIT_QUIET:-}" ] || return 0
    local max="${WAIT_MAX:-1800}" waited=0
    while :; do
        local load busy
        load=$(cut -d' ' -f1 /proc/loadavg)
        busy=$(pgrep -c -x 'cargo|rustc' 2>/dev/null || true)
        if [ "${busy:-0}" = 0 ] && awk -v l="$load" -v t="$WAIT_QUIET" 'BEGIN{exit !(l < t)}'; then
            return 0
        fi
        if [ "$waited" -ge "$max" ]; then
            echo "still loaded after ${max}s (load $load, cargo/rustc: ${busy:-0}); measuring anyway" >&2
            return 0
        fi
        sleep 15; waited=$((waited + 15))
    done
}

# ensure_htl: builds target/release/htl when $HTL does not exist (only then: rebuilding with
# other features than the last build would rebuild most of burn).
ensure_htl() {
    [ -x "$HTL" ] || (cd "$root" && cargo build --release --quiet)
}

# machine_line: "<cores> cores, <CPU model>, <memory> GiB", for the env.txt of a measurement.
machine_line() {
    echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/{printf "%.0f", $2/1048576}' /proc/meminfo) GiB"
}

# htl_line: "$HTL (<git revision of the repository>)".
htl_line() {
    echo "$HTL ($(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"
}
