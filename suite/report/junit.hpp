// The summary as JUnit XML, the format CI systems show as a test summary
// (GitHub Actions' test reporters, GitLab's artifacts:reports:junit): one
// <testsuite> per implementation, one <testcase> per check, named by its
// catalogue ID. A failed required check is a <failure>; a failed
// recommended one passes with a "WARNING" in <system-out> (a warning must
// not turn a CI run red); a skip is <skipped> with its reason.
// fixtures/junit/junit.xsd is the schema a test holds the output to.
#pragma once

#include <ostream>

#include "summary.hpp"

namespace csd::report {

void write_junit(const Summary& summary, std::ostream& out);

}  // namespace csd::report
