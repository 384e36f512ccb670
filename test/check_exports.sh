#!/bin/sh
# check_exports.sh LIBRARY MAPFILE: the shared library exports exactly the
# symbols listed in the version script's global list. Prints TAP.
#   1: every exported (defined, dynamic) function/data symbol is listed
#   2: every listed symbol is exported
set -u

# Under `meson test --setup valgrind` this script is itself run by memcheck,
# which reports the shell's own startup allocations as leaks. Re-executing
# leaves memcheck behind (it does not follow exec by default).
if [ -z "${CFUT_CHECK_EXPORTS_EXEC:-}" ]; then
    CFUT_CHECK_EXPORTS_EXEC=1 exec /bin/sh "$0" "$@"
fi

lib=${1:?usage: check_exports.sh LIBRARY MAPFILE}
map=${2:?usage: check_exports.sh LIBRARY MAPFILE}
nm=${NM:-nm}

echo "TAP version 13"
echo "1..2"

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

if ! "$nm" -D --defined-only "$lib" >"$tmp/nm.out" 2>"$tmp/nm.err"; then
    echo "not ok 1 - $nm -D failed on $lib"
    sed 's/^/# /' "$tmp/nm.err"
    echo "not ok 2 - # SKIP no symbol list"
    exit 1
fi

# Defined dynamic symbols, version suffix dropped. Type A marks the version
# nodes themselves (e.g. CFUT_0), which are not functions or data.
awk 'NF >= 2 { type = $(NF-1); name = $NF;
               if (type == "A") next;
               sub(/@.*/, "", name); print name }' "$tmp/nm.out" |
    LC_ALL=C sort -u >"$tmp/exported"

# Names between "global:" and "local:", comments removed.
sed -e 's:/\*.*\*/::g' "$map" |
    awk '/\/\*/ { incomment = 1 }
         incomment { if (/\*\//) incomment = 0; next }
         /global:/ { inglobal = 1; sub(/.*global:/, "") }
         /local:/ { inglobal = 0 }
         inglobal { gsub(/[;[:space:]]+/, " "); n = split($0, w, " ");
                    for (i = 1; i <= n; i++) if (w[i] != "") print w[i] }' |
    LC_ALL=C sort -u >"$tmp/listed"

if [ ! -s "$tmp/listed" ]; then
    echo "not ok 1 - no global symbols found in $map"
    echo "not ok 2 - no global symbols found in $map"
    exit 1
fi

status=0
extra=$(LC_ALL=C comm -23 "$tmp/exported" "$tmp/listed")
if [ -z "$extra" ]; then
    echo "ok 1 - every exported symbol is in the map's global list"
else
    echo "not ok 1 - exported but not in the map's global list"
    printf '%s\n' "$extra" | sed 's/^/#   /'
    status=1
fi

missing=$(LC_ALL=C comm -13 "$tmp/exported" "$tmp/listed")
if [ -z "$missing" ]; then
    echo "ok 2 - every listed symbol is exported ($(wc -l <"$tmp/listed") symbols)"
else
    echo "not ok 2 - listed in the map but not exported"
    printf '%s\n' "$missing" | sed 's/^/#   /'
    status=1
fi
exit $status
