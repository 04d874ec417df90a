# shellcheck shell=bash
# Sourced by ci/doctest.py into the shell that runs a doc's console blocks:
# background jobs in process groups of their own whose output is shown
# where the doc shows it, `kill` and `wait` that know those jobs, and the
# end of a block, which leaves nothing running.
# $__csd_dir: a directory for the jobs' output. The shell runs in namespaces of its own (ci/doctest.py), as
# PID 1: whatever is left when it ends dies with it.
: "${__csd_dir:?}"
__csd_n=0; declare -A __csd_pid __csd_file __csd_shown __csd_cmd
__csd_show() {  # the output job $1 printed since it was last shown
  local f=${__csd_file[$1]} s=${__csd_shown[$1]} size
  size=$(stat -c %s "$f")
  [ "$size" -gt "$s" ] && tail -c +"$((s + 1))" "$f" | head -c "$((size - s))"
  __csd_shown[$1]=$size
}
__csd_bg() {  # __csd_bg LINES COMMAND: COMMAND &, in a process group of its own
  local n=0 j f
  for j in "${!__csd_pid[@]}"; do [ "$j" -gt "$n" ] && n=$j; done
  n=$((n + 1)); f=$__csd_dir/job$((++__csd_n)).out
  : >"$f"
  # In a process group of its own, as job control would make it, and with
  # SIGINT and SIGQUIT as they are in an interactive shell's jobs.
  setsid env --default-signal=INT,QUIT bash -c "$2" >"$f" 2>&1 </dev/null &
  __csd_pid[$n]=$!; __csd_file[$n]=$f; __csd_shown[$n]=0; __csd_cmd[$n]=$2
  if [ "$1" -gt 0 ]; then  # wait (30 s at most) for the lines the doc shows
    local i
    for ((i = 0; i < 600; i++)); do
      [ "$(wc -l <"$f")" -ge "$1" ] && break
      builtin kill -0 "${__csd_pid[$n]}" 2>/dev/null || break
      sleep 0.05
    done
    __csd_show "$n"
  fi
}
__csd_job() {  # %N -> N, or nothing
  case $1 in %[0-9]*) [ -n "${__csd_pid[${1#%}]:-}" ] && echo "${1#%}" ;; esac
}
__csd_reap() {  # wait (60 s at most) for job $1, show the rest of its output; its status
  local pid=${__csd_pid[$1]} st=0 i stat
  for ((i = 0; i < 1200; i++)); do  # until it is a zombie, or gone
    read -r stat 2>/dev/null <"/proc/$pid/stat" || break
    stat=${stat##*) }
    [ "${stat%% *}" = Z ] && break
    sleep 0.05
  done
  if [ "$i" = 1200 ]; then
    echo "doctest: job %$1 did not end within 60 s: ${__csd_cmd[$1]}"
    builtin kill -KILL -- "-$pid" 2>/dev/null
  fi
  builtin wait "$pid" 2>/dev/null || st=$?
  __csd_show "$1"
  unset "__csd_pid[$1]" "__csd_file[$1]" "__csd_shown[$1]" "__csd_cmd[$1]"
  return $st
}
kill() {  # a job's whole process group; then wait for it and show its output
  local a opts=() args=() jobs=() j st
  while [ $# -gt 0 ] && [ "${1#-}" != "$1" ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  for a in "$@"; do
    j=$(__csd_job "$a")
    if [ -n "$j" ]; then jobs+=("$j"); args+=("-${__csd_pid[$j]}"); else args+=("$a"); fi
  done
  builtin kill "${opts[@]}" -- "${args[@]}"; st=$?
  for j in "${jobs[@]}"; do __csd_reap "$j"; done
  return $st
}
wait() {
  local a j st=0
  if [ $# = 0 ]; then
    for j in "${!__csd_pid[@]}"; do set -- "$@" "%$j"; done
  fi
  for a in "$@"; do
    j=$(__csd_job "$a")
    if [ -n "$j" ]; then __csd_reap "$j"; st=$?; else builtin wait "$a"; st=$?; fi
  done
  return $st
}
__csd_block_end() {  # nothing of the block may go on running
  local j p
  for j in "${!__csd_pid[@]}"; do
    echo "doctest: job %$j was still running at the end of the block: ${__csd_cmd[$j]}"
    builtin kill -KILL -- "-${__csd_pid[$j]}" 2>/dev/null
    __csd_reap "$j" >/dev/null
  done
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" -gt 1 ] && [ "$p" != $$ ] && [ "$p" != "$BASHPID" ] && builtin kill -KILL "$p" 2>/dev/null
  done
  builtin wait 2>/dev/null
  return 0
}
