#include "failure_reason.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <string_view>
#include <utility>
#include <vector>

#include "limits.hpp"
#include "timeouts.hpp"

namespace csd::report {

namespace {

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    lines.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos)
      break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0)
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0)
    text.remove_suffix(1);
  return std::string(text);
}

// "path/file.cpp:42", or googletest's "unknown file" for an exception.
bool is_location(std::string_view line) {
  if (line == "unknown file")
    return true;
  const auto colon = line.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == line.size())
    return false;
  return std::all_of(line.begin() + static_cast<std::ptrdiff_t>(colon) + 1, line.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

// The first non-empty line from `from` on; a line that ends in ':' (it
// announces what follows) is joined with the next.
std::string first_message_line(const std::vector<std::string>& lines, std::size_t from) {
  for (std::size_t i = from; i < lines.size(); ++i) {
    std::string line = trimmed(lines[i]);
    if (line.empty())
      continue;
    if (line.back() == ':' && i + 1 < lines.size())
      line += " " + trimmed(lines[i + 1]);
    return line;
  }
  return "";
}

// What googletest says about the expression: where it ends, and the
// AssertionResult's own message if it carried one.
struct GtestPart {
  std::size_t end = 0;  // index of the first line after it
  std::string assertion_message;
  std::string description;  // its lines, trimmed and joined
  // EXPECT_EQ and kin: each operand that is not a literal, with its value
  // ("sum(reported)", "480"): what was observed.
  std::vector<std::pair<std::string, std::string>> operands;
};

// "Expected: (a) >= (b), actual: 0 vs 1": the operands and their values.
void comparison_operands(std::string_view line, GtestPart& part) {
  const auto actual = line.find("), actual: ");
  const auto vs = line.rfind(" vs ");
  if (!line.starts_with("Expected: (") || actual == std::string_view::npos ||
      vs == std::string_view::npos || vs < actual)
    return;
  const std::string_view exprs = line.substr(11, actual - 11);  // "a) >= (b"
  const auto close = exprs.find(") ");
  const auto open = exprs.rfind(" (");
  if (close == std::string_view::npos || open == std::string_view::npos || open < close)
    return;
  const std::string_view values = line.substr(actual + 11);
  const auto split = values.rfind(" vs ");
  part.operands = {{std::string(exprs.substr(0, close)), std::string(values.substr(0, split))},
                   {std::string(exprs.substr(open + 2)), std::string(values.substr(split + 4))}};
}

GtestPart gtest_part(const std::vector<std::string>& lines, std::size_t start) {
  GtestPart part{start, "", "", {}};
  if (start >= lines.size())
    return part;
  const std::string_view first = lines[start];
  std::size_t end = start + 1;
  if (first.starts_with("Value of: ")) {
    // EXPECT_TRUE: "Value of", "  Actual: false (MESSAGE)", "Expected: true";
    // EXPECT_THAT: "Value of", "Expected: ...", "  Actual: ...". The
    // message may span lines: it runs to the "Expected:" that follows it.
    bool seen_actual = false;
    bool seen_expected = false;
    std::string message;
    for (; end < lines.size() && !(seen_actual && seen_expected); ++end) {
      const std::string_view line = lines[end];
      if (line.starts_with("  Actual: ")) {
        seen_actual = true;
        if (const auto open = line.find(" ("); open != std::string_view::npos && !seen_expected)
          message = std::string(line.substr(open + 2));
      } else if (line.starts_with("Expected: ")) {
        seen_expected = true;
      } else if (seen_actual && !seen_expected && !message.empty()) {
        message += "\n" + std::string(line);
      }
    }
    if (!message.empty() && message.back() == ')')
      message.pop_back();
    part.assertion_message = first_message_line(split_lines(message), 0);
  } else if (first.starts_with("Expected equality of these values:") ||
             first.starts_with("Expected: (") || first.starts_with("Expected:")) {
    // EXPECT_EQ: each operand on a line of its own, then "Which is: V"
    // unless it is a literal; EXPECT_GE and kin: all on the first line.
    comparison_operands(first, part);
    while (end < lines.size() && lines[end].starts_with("  ")) {
      const std::string line = trimmed(lines[end]);
      if (line.starts_with("Which is: ") && end > start + 1 &&
          !lines[end - 1].starts_with("    ")) {
        part.operands.emplace_back(trimmed(lines[end - 1]), line.substr(10));
      }
      ++end;
    }
  } else if (first != "Failed") {
    return part;  // no expression: an exception, or a message of its own
  }
  part.end = end;
  std::vector<std::string> described;
  for (std::size_t i = start; i < end; ++i) described.push_back(trimmed(lines[i]));
  part.description = fmt::format("{}", fmt::join(described, " "));
  return part;
}

// An operand whose value is itself: 0, 1U, -5, "text", true.
bool is_literal(std::string_view operand) {
  if (operand.starts_with('-'))
    operand.remove_prefix(1);
  return !operand.empty() && (std::isdigit(static_cast<unsigned char>(operand.front())) != 0 ||
                              operand.front() == '"' || operand.front() == '\'' ||
                              operand == "true" || operand == "false" || operand == "nullptr");
}

// Whether `text` has `word` as a word of its own ("480" is not in "4800").
bool mentions(std::string_view text, std::string_view word) {
  const auto is_word_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  for (auto at = text.find(word); at != std::string_view::npos; at = text.find(word, at + 1)) {
    const auto after = at + word.size();
    if ((at == 0 || !is_word_char(text[at - 1])) &&
        (after == text.size() || !is_word_char(text[after])))
      return true;
  }
  return false;
}

}  // namespace

std::string failure_reason(const std::string& gtest_failure) {
  const std::vector<std::string> lines = split_lines(gtest_failure);
  std::size_t start = 0;
  if (!lines.empty() && is_location(lines[0]))
    start = 1;
  const GtestPart part = gtest_part(lines, start);
  std::string message = first_message_line(lines, part.end);
  std::string reason;
  if (!part.assertion_message.empty()) {
    reason = message.empty() || message == part.assertion_message
                 ? part.assertion_message
                 : part.assertion_message + "; " + message;
  } else if (!message.empty()) {
    reason = message;
  } else {
    return part.description.empty() ? "(no message)" : part.description;
  }
  // What was observed, where the message does not say it already: the
  // values of an EXPECT_EQ's operands.
  std::vector<std::string> unsaid;
  for (const auto& [operand, value] : part.operands) {
    if (!is_literal(operand) && !mentions(reason, value))
      unsaid.push_back(fmt::format("{} = {}", operand, value));
  }
  if (!unsaid.empty())
    reason += fmt::format(" ({})", fmt::join(unsaid, ", "));
  return reason;
}

std::string reason_of(const nlohmann::json& failures) {
  std::string first = failure_reason(failures.at(0).value("failure", ""));
  // A check whose server a limit stopped, or that ran out of time, failed
  // for that: it leads, and the first failure says what the check saw.
  for (const std::string_view cause : {harness::kStoppedByLimit, harness::budget::kExceeded}) {
    for (const auto& failure : failures) {
      std::string reason = failure_reason(failure.value("failure", ""));
      if (!reason.starts_with(cause))
        continue;
      if (reason != first)
        reason
            .append(cause == harness::kStoppedByLimit ? "; before that: "
                                                      : "; what it was waiting for: ")
            .append(first);
      return reason;
    }
  }
  return first;
}

}  // namespace csd::report
