#!/usr/bin/env bash
# Format src/ in PostgreSQL's own style: pg_bsd_indent (Debian package
# pg-bsd-indent) with pgindent's options, then pgindent's one post-fix
# (a single space before '*' in a function's return type).
#   bash test/tools/indent.sh          rewrite src/*.c src/*.h
#   bash test/tools/indent.sh --check  list files that would change; exit 1 if any
# Type names come from test/tools/typedefs.list (the typedefs of the server
# headers, jansson and src/ that src/ uses); regenerate it with
#   bash test/tools/indent.sh --typedefs
set -euo pipefail
cd "$(dirname "$0")/../.."
LIST=test/tools/typedefs.list
OPTS="-bad -bap -bbb -bc -bl -cli1 -cp33 -cdb -nce -d0 -di12 -nfc1 -i4 -l79 -lp -lpl -nip -npro -sac -tpg -ts4"

if [ "${1:-}" = "--typedefs" ]; then
    inc=$(pg_config --includedir-server)
    # every "typedef ... Name;" and "typedef struct {...} Name;" of the headers
    perl -0777 -ne '
        s{/\*.*?\*/}{}gs;
        while (/typedef\b[^;{]*(\{(?:[^{}]++|(?1))*\})\s*\**\s*(\w+)\s*(?:\[[^\]]*\])?\s*;/g) { print "$2\n" }
        while (/typedef\s+[^;{}()]*?\b(\w+)\s*(?:\[[^\]]*\])?\s*;/g) { print "$1\n" }
        while (/typedef\s+[^;{}]*?\(\s*\*\s*(\w+)\s*\)\s*\(/g) { print "$1\n" }
    ' $(find "$inc" -name '*.h') /usr/include/jansson.h /usr/include/microhttpd.h /usr/include/postgresql/libpq-fe.h src/*.h src/*.c src/runner/*.h src/runner/*.c |
        sort -u | while read -r t; do
            if grep -qw -- "$t" src/*.c src/*.h src/runner/*.c src/runner/*.h; then echo "$t"; fi
        done | grep -vxE 'int|char|void|long|short|unsigned|signed|double|float' > "$LIST.tmp"
    # the C library's own, which no scanned header defines
    printf '%s\n' size_t ssize_t pid_t pthread_t | cat - "$LIST.tmp" | sort -u > "$LIST"
    rm -f "$LIST.tmp"
    echo "$(wc -l < "$LIST") type names in $LIST"
    exit 0
fi

command -v pg_bsd_indent >/dev/null || { echo "indent: pg_bsd_indent not installed (apt-get install pg-bsd-indent)"; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
changed=0
for f in src/*.c src/*.h src/runner/*.c src/runner/*.h; do
    # shellcheck disable=SC2086
    pg_bsd_indent $OPTS -U"$LIST" "$f" "$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
    [ -s "$tmp/err" ] && { echo "$f:"; cat "$tmp/err"; }
    sed -i 's/^\([A-Za-z_][^ \t]*\)[ \t]\+\*$/\1 */' "$tmp/out"
    if ! cmp -s "$f" "$tmp/out"; then
        changed=1
        if [ "${1:-}" = "--check" ]; then
            echo "not indented: $f"
            diff -u "$f" "$tmp/out" | head -20 || true
        else
            cp "$tmp/out" "$f"
        fi
    fi
done
[ "${1:-}" = "--check" ] && [ $changed -ne 0 ] && exit 1
exit 0
