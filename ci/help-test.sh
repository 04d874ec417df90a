#!/usr/bin/env bash
# Verify behavior for the sequence: run every tool's --help (csd-suite,
# csd-report, csd-client, csd-capture, csd-bench, csd-guard); each exits 0 and
# prints a manual page's sections, each header on a line of its own; the man
# page the build made of it (BUILD_DIR/man/TOOL.1) has them too, and groff
# reads it without a warning.
#   ci/help-test.sh BUILD_DIR      (ctest runs it: Help.ManStyleSections)
set -euo pipefail
build=${1:?usage: help-test.sh BUILD_DIR}
sections=(NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO")
help=$(mktemp "${TMPDIR:-/tmp}/csd-help-test.XXXXXX")
trap 'rm -f "$help"' EXIT

problems=0
for tool in csd-suite csd-report csd-client csd-capture csd-bench csd-guard; do
  code=0
  "$build/bin/$tool" --help >"$help" 2>&1 || code=$?
  if [ "$code" != 0 ]; then
    echo "help-test: expected $tool --help to exit 0, got $code: $(head -n 1 "$help")" >&2
    problems=$((problems + 1))
    continue
  fi
  missing=()
  for section in "${sections[@]}"; do
    # CLI11 writes its option group's header with a colon: "OPTIONS:".
    grep -Eq "^$section:?\$" "$help" || missing+=("$section")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "help-test: expected $tool --help to have the sections ${sections[*]}; missing: ${missing[*]}" >&2
    problems=$((problems + 1))
    continue
  fi
  page=$build/man/$tool.1
  if [ ! -s "$page" ]; then
    echo "help-test: expected the man page $page (the csd-man target), missing" >&2
    problems=$((problems + 1))
    continue
  fi
  warnings=$(groff -k -man -Tutf8 -ww -z "$page" 2>&1)   # -k: UTF-8, as man-db reads it
  headers=$(grep -c '^\.SH ' "$page")
  if [ -n "$warnings" ] || [ "$headers" -lt "${#sections[@]}" ]; then
    echo "help-test: expected $page to have ${#sections[@]} or more .SH and no groff warning;" \
      "$headers .SH, warnings: ${warnings:-none}" >&2
    problems=$((problems + 1))
    continue
  fi
  echo "help-test: $tool --help: exit 0, $(wc -l <"$help") lines, every section; $tool.1: $headers .SH"
done
[ "$problems" = 0 ] || { echo "help-test: $problems tools' --help fall short" >&2; exit 1; }
