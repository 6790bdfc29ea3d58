# Sourced by side_by_side.sh and e2e.sh. With WAIT_QUIET=<load> (e.g. 0.3), waits (up to
# WAIT_MAX seconds, default 1800) until the 1-minute load average is below <load> and
# no cargo / rustc process runs, so that measurements do not share the cores.
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
