# Shared by ops/dev and ops/test: install what is missing, and run a throwaway PostgreSQL cluster.
# PostgreSQL refuses to run as root, so as root its tools run as the postgres OS user.

rampart_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

install_missing() {
    local need=()
    pg_bin >/dev/null || need+=(postgresql)
    command -v curl >/dev/null || need+=(curl)
    python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
    if [ ${#need[@]} -gt 0 ]; then
        echo "installing: ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    command -v swift >/dev/null || { echo "the Swift 6 toolchain is required (swift not on PATH)" >&2; exit 1; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# pg_up DIR PORT: a throwaway cluster in DIR (trust auth, loopback only, no fsync).
pg_up() {
    local dir=$1 port=$2 bin
    bin=$(pg_bin)
    mkdir -p "$dir"
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    (cd / && as_postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null)
    pg_start "$dir" "$port"
}

# pg_start DIR PORT: starts (again) the cluster pg_up made in DIR.
pg_start() {
    local dir=$1 port=$2
    (cd / && as_postgres "$(pg_bin)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200 -c shared_preload_libraries=pg_stat_statements" \
        start >/dev/null)
}

# pg_down DIR [MODE]: stops it (MODE: smart, fast (default) or immediate, as pg_ctl takes it).
pg_down() {
    local dir=$1 mode=${2:-fast}
    [ -d "$dir/data" ] && (cd / && as_postgres "$(pg_bin)/pg_ctl" -D "$dir/data" -m "$mode" -w stop >/dev/null 2>&1) || true
}

# pgbouncer_up DIR PG_PORT PORT MODE: PgBouncer (Debian's) on PORT in front of the cluster on
# PG_PORT, pooling every database in MODE (transaction or session); trust auth, loopback only.
pgbouncer_up() {
    local dir=$1 pg_port=$2 port=$3 mode=$4
    command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
    }
    mkdir -p "$dir"
    printf '"rampart_test_app" ""\n"rampart_test_admin" ""\n"rampart_test_counted" ""\n"postgres" ""\n' > "$dir/userlist.txt"
    cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$pg_port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = $mode
max_client_conn = 4000
default_pool_size = 60
server_login_retry = 1
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
    [ "$(id -u)" = 0 ] && chown -R postgres: "$dir"
    (cd / && as_postgres /usr/sbin/pgbouncer -d "$dir/pgbouncer.ini")
    for _ in $(seq 1 50); do
        pg_isready -q -h 127.0.0.1 -p "$port" && return 0
        sleep 0.1
    done
    echo "pgbouncer did not start: $(tail -3 "$dir/pgbouncer.log")" >&2
    return 1
}

# pgbouncer_down DIR: stops the PgBouncer pgbouncer_up started in DIR.
pgbouncer_down() {
    local dir=$1
    [ -f "$dir/pgbouncer.pid" ] && kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
}
