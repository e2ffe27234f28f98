#!/usr/bin/env bash
# The version lives in pg_wf.control; META.json and the install script must agree.
set -euo pipefail
cd "$(dirname "$0")/.."
v=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" pg_wf.control)
m=$(python3 -c 'import json,sys; d=json.load(open("META.json")); print(d["version"], d["provides"]["pg_wf"]["version"])' 2>/dev/null \
    || perl -MJSON::PP -e 'local $/; my $d=decode_json(<STDIN>); print "$d->{version} $d->{provides}{pg_wf}{version}\n"' < META.json)
[ "$m" = "$v $v" ] || { echo "META.json says '$m', pg_wf.control says '$v'"; exit 1; }
[ -f sql/pg_wf.sql ] || { echo "sql/pg_wf.sql is missing"; exit 1; }
prev=$(ls sql/pg_wf--*--"$v".sql 2>/dev/null | head -1)
[ -n "$prev" ] || { echo "no upgrade script leads to $v (sql/pg_wf--<old>--$v.sql)"; exit 1; }
# Released install scripts are frozen: users have them installed.
echo "d084f9efd31ff056a713caee04f48e7c19c8112f3145bad7cf5049fa194a85c0  sql/pg_wf--0.1.sql" |
    sha256sum --check --quiet - || { echo "sql/pg_wf--0.1.sql was edited: it is released (put changes in the next version)"; exit 1; }
echo "== version $v consistent (pg_wf.control, META.json, sql/)"
