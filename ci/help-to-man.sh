#!/usr/bin/env bash
# Turns a tool's man-style --help (ci/help-test.sh checks its sections) into a
# man page: each all-capitals header line becomes .SH, the rest is kept as it
# is printed, preformatted, so the page says exactly what --help says.
#   ci/help-to-man.sh PROGRAM VERSION OUT.1 [BUILD_PATH INSTALLED_PATH]
# (the build runs it: csd-man). BUILD_PATH, where --help names a path of the
# build's (csd-suite's default manifests), is written INSTALLED_PATH instead.
set -euo pipefail
usage="usage: help-to-man.sh PROGRAM VERSION OUT.1 [BUILD_PATH INSTALLED_PATH]"
program=${1:?$usage}
version=${2:?$usage}
out=${3:?$usage}
name=$(basename "$program")
help=$("$program" --help)
if [ $# -ge 5 ]; then help=${help//"$4"/"$5"}; fi
trap 'rm -f "$out.tmp"' EXIT
exec >"$out.tmp"
printf '.TH %s 1 "" "csd %s" "csd manual"\n' "${name^^}" "$version"
# csd-suite's help ends with googletest's flags: the page stops at ours.
awk '
  /^This program contains tests written using Google Test/ { exit }
  /^[A-Z][A-Z ]*[A-Z]:?$/ {
    if (open) print ".fi"
    header = $0; sub(/:$/, "", header)
    print ".SH \"" header "\""
    print ".nf"
    open = 1
    next
  }
  {
    sub(/^  /, "")                        # man indents a section itself
    gsub(/\\/, "\\e")                    # a backslash is troff escape
    if ($0 ~ /^[.\047]/) $0 = "\\&" $0   # a leading . or quote is a request
    # CLI11 prints the program by the path it was run with: the name only.
    if ($0 ~ /^Usage: /) sub(/^Usage: [^ ]*\//, "Usage: ")
    print
  }
  END { if (open) print ".fi" }
' <<<"$help"
mv "$out.tmp" "$out"
