#!/usr/bin/env bash
# The version lives in pg_wf.control; META.json and the install script must agree.
set -euo pipefail
cd "$(dirname "$0")/.."
v=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" pg_wf.control)
m=$(python3 -c 'import json,sys; d=json.load(open("META.json")); print(d["version"], d["provides"]["pg_wf"]["version"])' 2>/dev/null \
    || perl -MJSON::PP -e 'local $/; my $d=decode_json(<STDIN>); print "$d->{version} $d->{provides}{pg_wf}{version}\n"' < META.json)
[ "$m" = "$v $v" ] || { echo "META.json says '$m', pg_wf.control says '$v'"; exit 1; }
[ -f "sql/pg_wf--$v.sql" ] || { echo "sql/pg_wf--$v.sql is missing"; exit 1; }
echo "== version $v consistent (pg_wf.control, META.json, sql/)"
