# csd-bench's test: runs it on a tiny load (the baseline, csd-iterative and
# csd-prefork; 5 clients x 4 connections x 4000 bytes; one repetition) and
# checks the shape of what it writes. Never a time: only that every figure is
# there, the runs are valid, the ratios exist and the prefork's per-worker
# table adds up to the connections made.
#
#   cmake -DBENCH=.../csd-bench -DIMPL_DIR=.../fixtures/impls -DOUT_DIR=DIR -P check_output.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS BENCH IMPL_DIR OUT_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_output.cmake: -D${var}=... is required")
  endif()
endforeach()

set(clients 5)
set(conns 4)
set(connections 20)  # clients x conns
set(designs "csd-citerative" "csd-iterative" "csd-prefork")

file(REMOVE_RECURSE "${OUT_DIR}")
file(MAKE_DIRECTORY "${OUT_DIR}")
set(json_file "${OUT_DIR}/bench.json")
set(markdown_file "${OUT_DIR}/bench.md")

execute_process(
  COMMAND "${BENCH}" --impl "${IMPL_DIR}/iterative.json" --impl "${IMPL_DIR}/prefork.json"
          --clients ${clients} --bytes 4000 --conns ${conns} --reps 1
          --json "${json_file}" --markdown "${markdown_file}"
  RESULT_VARIABLE status
  OUTPUT_VARIABLE stdout
  ERROR_VARIABLE stderr
  TIMEOUT 50)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "csd-bench exited with ${status}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}")
endif()

set(failures "")
function(fail text)
  set(failures "${failures}  ${text}\n" PARENT_SCOPE)
endfunction()

# ---- JSON --------------------------------------------------------------------------

file(READ "${json_file}" json)

# The value at a path of keys and indices ("<missing>" if there is none;
# JSON null reads as "null" or "", booleans as ON/OFF).
function(json_get out)
  string(JSON value ERROR_VARIABLE error GET "${json}" ${ARGN})
  if(error)
    set(value "<missing>")
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

function(json_length out)
  string(JSON value ERROR_VARIABLE error LENGTH "${json}" ${ARGN})
  if(error)
    set(value -1)
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

foreach(key IN ITEMS kernel ip_local_port_range tcp_tw_reuse compiler build_type cores)
  json_get(value machine ${key})
  if(value STREQUAL "<missing>" OR value STREQUAL "")
    fail("machine.${key} is not recorded")
  endif()
endforeach()

json_length(run_count runs)
if(NOT run_count EQUAL 3)
  fail("expected 3 runs (one per design), got ${run_count}")
endif()
if(run_count GREATER 0)
  math(EXPR last "${run_count} - 1")
  foreach(i RANGE ${last})
    json_get(design runs ${i} design)
    json_get(valid runs ${i} valid)
    if(NOT valid STREQUAL "ON")
      json_get(reason runs ${i} invalid_reason)
      fail("run ${i} (${design}) is not valid: ${reason}")
    endif()
    json_get(made runs ${i} load connections)
    if(NOT made EQUAL connections)
      fail("run ${i} (${design}) made ${made} connections, not ${connections}")
    endif()
    foreach(path IN ITEMS "connections_per_s" "load;latency_us;p50" "load;latency_us;p99" "load;latency_us;p999"
                          "load;latency_us;max" "server;cpu_us_per_conn" "server;wakeups_per_conn"
                          "server;accept_eagain" "server;worker_counts" "system;cpu_us_per_conn"
                          "system;listen_overflows" "system;time_wait" "client_cpu_us_per_conn" "distribution")
      json_get(value runs ${i} ${path})
      if(value STREQUAL "<missing>")
        string(REPLACE ";" "." dotted "${path}")
        fail("run ${i} (${design}) has no ${dotted}")
      endif()
    endforeach()
    if(design STREQUAL "csd-prefork")
      json_length(workers runs ${i} distribution counts)
      json_get(total runs ${i} distribution total)
      if(NOT workers EQUAL 4 OR NOT total EQUAL connections)
        fail("csd-prefork's per-worker counts: ${workers} workers (want 4), total ${total} (want ${connections})")
      endif()
    endif()
  endforeach()
endif()

json_length(summary_count summary)
if(NOT summary_count EQUAL 3)
  fail("expected 3 summary rows, got ${summary_count}")
endif()
if(summary_count GREATER 0)
  math(EXPR last "${summary_count} - 1")
  foreach(i RANGE ${last})
    json_get(design summary ${i} design)
    json_get(baseline summary ${i} baseline)
    foreach(path IN ITEMS "connections_per_s" "latency_us;p50" "latency_us;p99" "server_cpu_us_per_conn"
                          "system_cpu_us_per_conn" "wakeups_per_conn")
      json_get(ratio summary ${i} ${path} ratio)
      string(REPLACE ";" "." dotted "${path}")
      if(path STREQUAL "connections_per_s" AND NOT ratio MATCHES "^[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$")
        fail("${design}: ${dotted} has no ratio to the baseline (got '${ratio}')")
      elseif(ratio STREQUAL "<missing>")
        fail("${design}: ${dotted} has no ratio field")
      endif()
    endforeach()
    json_get(ratio summary ${i} connections_per_s ratio)
    if(baseline STREQUAL "ON" AND NOT ratio EQUAL 1)
      fail("the baseline's own connections/s ratio is not 1 (got ${ratio})")
    endif()
    json_get(busy summary ${i} system_cpu_busy)
    if(NOT busy MATCHES "^[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$" OR busy GREATER 1)
      fail("${design}: system_cpu_busy is not a share between 0 and 1 (got '${busy}')")
    endif()
    json_get(paired summary ${i} connections_per_s_ratio_per_rep median)
    json_get(paired_reps summary ${i} connections_per_s_ratio_per_rep reps)
    if(NOT paired MATCHES "^[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$" OR NOT paired_reps EQUAL 1)
      fail("${design}: no per-repetition ratio to the baseline over 1 rep (got '${paired}' over '${paired_reps}')")
    elseif(baseline STREQUAL "ON" AND NOT paired EQUAL 1)
      fail("the baseline's own per-repetition ratio is not 1 (got ${paired})")
    endif()
  endforeach()
endif()

# ---- Markdown ----------------------------------------------------------------------

file(READ "${markdown_file}" markdown)
foreach(key IN ITEMS "| kernel |" "| ip_local_port_range |" "| tcp_tw_reuse |" "| compiler |" "| build type |"
                     "| design | model | conn/s |")
  string(FIND "${markdown}" "${key}" at)
  if(at EQUAL -1)
    fail("the Markdown has no '${key}'")
  endif()
endforeach()
string(REGEX MATCHALL "\n\\| csd-[a-z-]+[^\n]*" rows "${markdown}")
list(LENGTH rows row_count)
if(NOT row_count EQUAL 3)
  fail("the Markdown table has ${row_count} design rows, not 3")
endif()
foreach(design IN LISTS designs)
  string(REGEX MATCHALL "\n\\| ${design}( \\(baseline\\))? \\|[^\n]*" mine "${markdown}")
  list(LENGTH mine count)
  if(NOT count EQUAL 1)
    fail("the Markdown has ${count} rows for ${design}, not 1")
  elseif(NOT mine MATCHES "×[0-9]+\\.[0-9][0-9]")
    fail("the Markdown row of ${design} shows no ratio (×r.rr)")
  endif()
endforeach()

if(failures)
  message(FATAL_ERROR "csd-bench output shape:\n${failures}--- markdown ---\n${markdown}")
endif()
message(STATUS "csd-bench output shape ok: ${run_count} runs, ${row_count} rows")
