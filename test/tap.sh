#!/usr/bin/env bash
# Run the TAP tests (test/t/*.pl) with PostgreSQL::Test::Cluster. They run
# initdb themselves, so as root they run as the postgres OS user, from a
# copy in a temp directory that user can read.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
pgxs=$(dirname "$("$PG_CONFIG" --pgxs)")/../..
bindir=$("$PG_CONFIG" --bindir)
work=$(mktemp -d /tmp/pgwftap.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$root/test/t" "$work/t"
run=()
if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres:postgres "$work"
    run=(runuser -u postgres --)
fi
cd "$work"
status=0
"${run[@]}" env TESTDIR="$work" PATH="$bindir:$PATH" PG_REGRESS="$pgxs/src/test/regress/pg_regress" \
    prove -I "$pgxs/src/test/perl" ${PROVE_FLAGS:-} t/*.pl || status=$?
if [ $status -ne 0 ]; then
    for f in "$work"/tmp_check/log/*; do
        [ -f "$f" ] && { echo "==== $(basename "$f") (tail)"; tail -n 40 "$f"; }
    done
fi
exit $status
