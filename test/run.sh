#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs build dependencies,
# builds and installs pg_wf, starts a throwaway cluster with the library
# preloaded, runs every pg_regress suite and isolation spec, then the TAP
# tests (their own clusters), and prints every regression.diffs and TAP log
# on failure. Run as root (or a sudoer).
source "$(dirname "$0")/lib.sh"
cd "$WF_ROOT"

wf_install_deps
wf_build_install
bash test/check-version.sh
# The watchdog serves only the database "postgres" here: the suites run
# wf_tick() themselves, in databases of their own.
# glibc fills freed memory (MALLOC_PERTURB_), so that a result read after
# SPI_finish freed it is garbage, not a lucky copy (sql/graph.sql).
WF_PGENV="MALLOC_PERTURB_=165" WF_PGOPTS="-c pg_wf.database=postgres" wf_start_cluster

failed=0
echo "== source checks: layers call downward; PostgreSQL's indentation"
perl test/tools/layers.pl || failed=1
if command -v pg_bsd_indent >/dev/null; then
    bash test/tools/indent.sh --check || failed=1
else
    echo "indent: pg_bsd_indent not installed; skipped (apt-get install pg-bsd-indent)"
fi
rm -rf results output_iso regression.diffs regression.diffs.one-task regression.out
make -s installcheck-regress || failed=1
make -s installcheck-isolation || failed=1
# The same suites and specs again, each wf_task_complete() run as a
# wf_task_complete_batch() of one: the batch's set-based path must behave
# exactly as the one-task path (same outputs, same refusals, same races).
for f in regression.diffs output_iso/regression.diffs; do
    [ -f "$f" ] && mv "$f" "$f.one-task"
done
echo "== again, every wf_task_complete() through the batch path (pg_wf.complete_as_batch)"
PGOPTIONS="-c pg_wf.complete_as_batch=on" make -s installcheck-regress || failed=1
PGOPTIONS="-c pg_wf.complete_as_batch=on" make -s installcheck-isolation || failed=1
echo "== TAP tests (test/t): worker, restart, crash, upgrade, watchdog isolation, capture, dump and restore, dropping the database, every database, no JIT, wf-runner and its HTTP endpoint"
bash test/tap.sh || failed=1

if [ $failed -ne 0 ]; then
    for f in regression.diffs.one-task output_iso/regression.diffs.one-task \
             regression.diffs output_iso/regression.diffs; do
        [ -f "$f" ] && { echo "==== $f"; cat "$f"; }
    done
    echo "== server log (tail)"; tail -n 50 "$WF_PGDIR/server.log" || true
    echo "FAILED"
    exit 1
fi
echo "== all tests passed"
