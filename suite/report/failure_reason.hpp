// A failed assertion as one line a person can act on: googletest stores
// "FILE:LINE", its description of the expression and the message streamed
// into it; the report wants the message, with what was observed.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace csd::report {

// One line a person can act on, from the text googletest stores for a
// failed assertion ("FILE:LINE\n" + what failed + the streamed message). In
// order of preference: the assertion's own message (an AssertionResult's,
// "asked for 1 bytes, got 0 (short_reply: ...)"), then the message streamed
// into the assertion, each giving context to the other when both exist;
// googletest's description of the expression only when neither does.
std::string failure_reason(const std::string& gtest_failure);

// The reason of a failed test, from its gtest "failures": the first one's,
// or for a test that ran out of its budget, that, and the first one's.
std::string reason_of(const nlohmann::json& failures);

}  // namespace csd::report
