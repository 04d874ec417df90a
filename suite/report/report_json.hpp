// report.json: the verdicts of a run for programs, one object per check
// and implementation, in the words of the catalogue rather than googletest's
// (suite.json, next to it, is csd-suite's own gtest JSON):
//
//   {"format": "csd-report/1", "environment": {"csd": "0.1.0 (...)", ...},
//    "totals": {"passed": 15, "failed": 1, "warned": 0, "skipped": 0, "flaky": 0,
//               "seconds": 9.8},
//    "not_applicable": 11,
//    "rerun": {"program": "/abs/build/bin/csd-suite", "flags": ["--network", "loss 1%"],
//              "environment": {}},
//    "implementations": [{"name": "python-fork-server", "passed": 15, ...}],
//    "results": [{"implementation": "python-fork-server", "id": "size/split-request",
//                 "check": "Size.SplitRequest", "level": "required",
//                 "verdict": "fail", "reason": "asked for 100 bytes, got 0 (...)",
//                 "reproduce": "/abs/build/bin/csd-suite --impl /abs/fork-server.json "
//                              "--network 'loss 1%' "
//                              "--gtest_filter='Impl/Size.SplitRequest/python_fork_server'",
//                 "test": "Impl/Size.SplitRequest/python_fork_server",
//                 "manifest": "/abs/fork-server.json",
//                 "seconds": 5.0, "evidence": {"server_output": "Impl_....server.txt"},
//                 "figures": {}}]}
//
// verdict is pass, fail, warn (a recommended check that failed), skip (with
// its reason) or, under csd-report --repeat K, flaky: failed in some runs
// only, its reason "flaky: 3 of 5 failed; the first failure: ...". Under
// --repeat every result has "repeats": {"runs": 5, "failed": 3}; a test whose
// csd-suite died before it had a result has "unfinished": true. Evidence
// files are named relative to report.json. A failure, warning or flaky test
// has "reproduce", the shell line that reruns it alone with the run's
// options (a warning's with --strict, so that its exit status says), and
// where its check has one "by_hand", a command to run against a server a
// person started on PORT; "rerun" is how the run called csd-suite, and
// with each result's "test" and "manifest" what `csd-report --rerun-failed`
// reads.
#pragma once

#include <ostream>

#include "summary.hpp"

namespace csd::report {

void write_report_json(const Summary& summary, std::ostream& out);

}  // namespace csd::report
