# test/lib.sh — shared by test/run.sh, test/demo.sh and .ci/run.
# Installs what the build needs, builds and installs pg_wf, and runs a
# throwaway cluster as the postgres OS user (PostgreSQL refuses root).
# Source it; it sets PGHOST/PGPORT/PGUSER for the started cluster.

set -euo pipefail

WF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages for the build and the tests, pinned to the server's version.
wf_install_deps() {
    local need=()
    local inc
    inc=$("$PG_CONFIG" --includedir-server)
    [ -f "$inc/postgres.h" ] || need+=(server)
    [ -f /usr/include/jansson.h ] || need+=(jansson)
    [ -f /usr/include/microhttpd.h ] || need+=(microhttpd)
    [ -f "$("$PG_CONFIG" --includedir)/libpq-fe.h" ] || need+=(libpq)
    perl -MIPC::Run -e1 2>/dev/null || need+=(ipcrun)
    command -v make >/dev/null && command -v gcc >/dev/null || need+=(build)
    command -v pg_bsd_indent >/dev/null || need+=(indent)
    [ ${#need[@]} -eq 0 ] && return 0
    echo "== installing build dependencies: ${need[*]}"
    as_root apt-get update -qq
    local pkgs=(libjansson-dev libmicrohttpd-dev libipc-run-perl make gcc pg-bsd-indent ${WF_EXTRA_PKGS:-})
    local v
    v=$(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null || true)
    # the headers (and libpq's) of the installed server, else the newest
    if [ -n "$v" ] && as_root apt-get install -y -qq "postgresql-server-dev-15=$v" "libpq-dev=$v" "${pkgs[@]}" >/dev/null; then
        return 0
    fi
    as_root apt-get install -y -qq postgresql-server-dev-15 libpq-dev "${pkgs[@]}" >/dev/null
}

wf_build_install() {
    echo "== building pg_wf"
    make -C "$WF_ROOT" -s PG_CONFIG="$PG_CONFIG"
    as_root make -C "$WF_ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
}

# Start a cluster in a fresh temp directory: unix socket only, stopped on exit.
wf_start_cluster() {
    local bindir
    bindir=$("$PG_CONFIG" --bindir)
    WF_PGDIR=$(mktemp -d /tmp/pgwf.XXXXXX)
    chmod 755 "$WF_PGDIR"
    local run=()
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$WF_PGDIR"
        run=(runuser -u postgres --)
    fi
    WF_RUN=("${run[@]}")
    "${run[@]}" "$bindir/initdb" -D "$WF_PGDIR/data" -U postgres -A trust \
        --no-sync >"$WF_PGDIR/initdb.log" 2>&1 || { cat "$WF_PGDIR/initdb.log"; return 1; }
    export PGHOST=$WF_PGDIR PGPORT=${WF_PGPORT:-54329} PGUSER=postgres PGDATABASE=postgres
    trap wf_stop_cluster EXIT
    # WF_PGENV: environment of the server, e.g. MALLOC_PERTURB_ (test/run.sh)
    "${run[@]}" env ${WF_PGENV:-} "$bindir/pg_ctl" -D "$WF_PGDIR/data" -l "$WF_PGDIR/server.log" -w \
        -o "-k $WF_PGDIR -p $PGPORT -c listen_addresses='' -c shared_preload_libraries=pg_wf ${WF_PGOPTS:-}" \
        start >/dev/null || { cat "$WF_PGDIR/server.log"; return 1; }
}

wf_stop_cluster() {
    local rc=$?
    if [ -n "${WF_PGDIR:-}" ] && [ -d "$WF_PGDIR/data" ]; then
        "${WF_RUN[@]}" "$("$PG_CONFIG" --bindir)/pg_ctl" -D "$WF_PGDIR/data" -m fast stop >/dev/null 2>&1 || true
        rm -rf "$WF_PGDIR"
    fi
    return $rc
}
