# pg_wf — built with PGXS
EXTENSION  = pg_wf
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" pg_wf.control)
MODULE_big = pg_wf
OBJS       = src/pg_wf.o \
             src/wf_parse.o src/wf_graph.o src/wf_json.o src/wf_compile.o src/wf_def.o \
             src/wf_util.o src/wf_state.o src/wf_store.o src/wf_expr.o src/wf_registry.o src/wf_signal.o src/wf_token.o src/wf_audit.o \
             src/wf_wait.o src/wf_step.o src/wf_execution.o src/wf_foreach.o src/wf_flow.o src/wf_attempt.o \
             src/wf_task.o src/wf_queue.o src/wf_lifecycle.o src/wf_purge.o src/wf_deliver.o src/wf_watchdog.o src/wf_launcher.o src/wf_dot.o
# sql/pg_wf.sql is the current version's install script; the released
# versions' scripts are frozen (0.1 is what users installed first), and
# upgrade scripts lead from each to the next.
DATA       = sql/pg_wf--0.1.sql $(wildcard sql/pg_wf--*--*.sql)
DATA_built = sql/pg_wf--$(EXTVERSION).sql
SHLIB_LINK = -ljansson -lm
PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS  = -Wall -Wextra -Werror -Wno-unused-parameter \
             -Wno-missing-field-initializers -Wno-sign-compare

# pg_regress suites: sql/<name>.sql, expected/<name>.out (run in this order)
REGRESS      = setup define linear diamond failure dataflow complete_errors scale retry watchdog delegate flow lifecycle foreach subworkflow hostile operations graph patterns events batch
REGRESS_OPTS = --inputdir=.
# isolation specs: test/specs/<name>.spec, test/expected/<name>.out
ISOLATION      = claim_race join_race duplicate_completion notify delegate_race watchdog_race batch_order lifecycle_race foreach_race purge_race signal_race task_cancel_race notify_hungry
ISOLATION_OPTS = --inputdir=test

# wf-runner, the reference runner (src/runner): a program with libpq,
# jansson and libmicrohttpd, installed into pg_config's bindir.
RUNNER_OBJS = src/runner/log.o src/runner/config.o src/runner/action.o \
              src/runner/db.o src/runner/http.o src/runner/main.o
EXTRA_CLEAN = wf-runner $(RUNNER_OBJS)

# No JIT bitcode: it needs clang, and the engine gains nothing from it.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

RUNNER_CFLAGS = -O2 -g -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
                -Wno-missing-field-initializers -I$(shell $(PG_CONFIG) --includedir) \
                -DWF_VERSION='"$(EXTVERSION)"'
all: wf-runner
src/runner/%.o: src/runner/%.c src/runner/runner.h
	$(CC) $(RUNNER_CFLAGS) -c -o $@ $<
wf-runner: $(RUNNER_OBJS)
	$(CC) -o $@ $(RUNNER_OBJS) -L$(shell $(PG_CONFIG) --libdir) -lpq -ljansson -lmicrohttpd -lpthread
install: install-runner
.PHONY: install-runner
install-runner: wf-runner
	$(INSTALL_PROGRAM) wf-runner '$(DESTDIR)$(bindir)/wf-runner'

sql/pg_wf--$(EXTVERSION).sql: sql/pg_wf.sql
	cp $< $@

# PGXS tracks no header dependencies: rebuild everything when one changes.
$(OBJS): $(wildcard $(srcdir)/src/*.h)

# Each suite on its own, so that one failure does not hide the others.
.PHONY: installcheck-regress installcheck-isolation bench
installcheck-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)
installcheck-isolation:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

# Benchmarks against a floor measured in the same run (not part of the tests).
bench:
	bash test/bench/run.sh

# Source checks (also run by test/run.sh): no circle among src/ files, and
# PostgreSQL's indentation (pg_bsd_indent). `make indent` rewrites src/.
.PHONY: layers indent
layers: all
	perl test/tools/layers.pl
indent:
	bash test/tools/indent.sh
