# What the bench scripts share (sourced by bench/run, bench/before-after, bench/cluster,
# bench/first-load): waiting for a server's port, stopping the one server a script runs, and the
# limits opened for a load from one machine.

# The rates a load from one machine (250 loopback addresses) needs opened: the per-session and
# per-address limits would otherwise refuse it, as they should refuse a real flood. Each script adds
# its own per-address connection caps. For `env`: env "${OPENED_LIMITS[@]}" chinwag.
OPENED_LIMITS=(
    CHINWAG_RATE_PER_SEC=1000000 CHINWAG_RATE_BURST=1000000
    CHINWAG_ADDRESS_RATE_PER_SEC=1000000 CHINWAG_ADDRESS_RATE_BURST=1000000
    CHINWAG_NEW_CONNECTIONS_PER_SEC=1000000 CHINWAG_NEW_CONNECTIONS_BURST=1000000
    CHINWAG_CATCH_UP_PER_SEC=100000000 CHINWAG_CATCH_UP_BURST=100000000
    CHINWAG_FRAMES_PER_SEC=1000000 CHINWAG_FRAMES_BURST=1000000
    CHINWAG_SESSIONS_PER_MINUTE=100000000 CHINWAG_SESSIONS_BURST=1000000
)

# wait_port PORT: returns once something listens on 127.0.0.1:PORT; fails after 10 s.
wait_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "bench: nothing listens on port $1" >&2
    return 1
}

# stop_server: stops the server whose PID is in SERVER_PID (by its PID), if any.
SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
