#include "plan.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <charconv>

namespace csd::report {

namespace {

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

std::optional<int> whole_number(std::string_view text) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

// "Impl/Size.SmallRepliesExact/csd_fork" -> "Impl/Size.SmallRepliesExact":
// the check's gtest name, as the catalogue gives it.
std::string check_gtest_name(std::string_view test) {
  const auto dot = test.find('.');
  const auto slash = test.find('/', dot == std::string_view::npos ? 0 : dot);
  return std::string(test.substr(0, slash));
}

}  // namespace

std::vector<PlannedTest> parse_test_list(std::string_view listing) {
  constexpr std::string_view kParam = "# GetParam() = ";
  std::vector<PlannedTest> tests;
  std::string suite;
  while (!listing.empty()) {
    const auto nl = listing.find('\n');
    std::string_view line = listing.substr(0, nl);
    listing.remove_prefix(nl == std::string_view::npos ? listing.size() : nl + 1);
    if (line.starts_with("  ")) {
      if (suite.empty())
        continue;
      std::string_view name = line;
      std::string_view param;
      if (const auto hash = line.find(kParam); hash != std::string_view::npos) {
        name = line.substr(0, hash);
        param = line.substr(hash + kParam.size());
      }
      PlannedTest test;
      test.name = suite + std::string(trimmed(name));
      if (suite.starts_with("Impl/"))  // a check of an implementation: the parameter is its name
        test.implementation = std::string(trimmed(param));
      tests.push_back(std::move(test));
    } else if (line = trimmed(line);
               !line.empty() && line.back() == '.' && line.find(' ') == std::string_view::npos) {
      suite = std::string(line);
    } else {
      suite.clear();  // anything else is not part of the listing
    }
  }
  return tests;
}

std::string_view demo_alone_because(std::string_view name) {
  const std::string test(name);
  for (const auto& demo : kDemosRunningAlone) {
    const std::string pattern(demo.pattern);
    if (::fnmatch(pattern.c_str(), test.c_str(), 0) == 0)
      return demo.why;
  }
  return {};
}

void annotate(std::vector<PlannedTest>& tests, const nlohmann::json& catalogue) {
  std::map<std::string, const nlohmann::json*> by_gtest_name;
  for (const auto& check : catalogue) by_gtest_name[check.value("gtest", "")] = &check;
  for (auto& test : tests) {
    if (!test.name.starts_with("Impl/")) {
      test.alone_because = std::string(demo_alone_because(test.name));
      continue;
    }
    const auto found = by_gtest_name.find(check_gtest_name(test.name));
    if (found == by_gtest_name.end())
      continue;
    const nlohmann::json& check = *found->second;
    test.check_id = check.value("id", "");
    test.level = check.value("level", "");
    if (check.value("runs_alone", false))
      test.alone_because = check.value("why_alone", "runs alone");
  }
}

std::optional<Shard> parse_shard(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos)
    return std::nullopt;
  const auto index = whole_number(text.substr(0, slash));
  const auto count = whole_number(text.substr(slash + 1));
  if (!index || !count || *count < 1 || *index < 1 || *index > *count)
    return std::nullopt;
  return Shard{*index, *count};
}

std::vector<PlannedTest> tests_of_shard(const std::vector<PlannedTest>& all, Shard shard) {
  std::vector<PlannedTest> part;
  for (std::size_t i = static_cast<std::size_t>(shard.index - 1); i < all.size();
       i += static_cast<std::size_t>(shard.count))
    part.push_back(all[i]);
  return part;
}

std::vector<Batch> make_batches(const std::vector<PlannedTest>& tests, int jobs, int rounds) {
  std::vector<std::string> side_by_side;
  std::vector<std::string> alone;
  for (const auto& test : tests)
    (test.alone_because.empty() ? side_by_side : alone).push_back(test.name);
  std::vector<Batch> batches;
  // Round after round, so that a round's results are complete early; the
  // last batches of one round and the first of the next run side by side.
  const std::size_t share = static_cast<std::size_t>(std::max(jobs, 1)) * 3;
  for (int round = 1; round <= rounds; ++round) {
    std::size_t next = 0;
    while (next < side_by_side.size()) {
      const std::size_t left = side_by_side.size() - next;
      const std::size_t size = std::max<std::size_t>(1, left / share);
      Batch batch{round, false, {}};
      batch.tests.assign(side_by_side.begin() + static_cast<std::ptrdiff_t>(next),
                         side_by_side.begin() + static_cast<std::ptrdiff_t>(next + size));
      batches.push_back(std::move(batch));
      next += size;
    }
  }
  for (int round = 1; round <= rounds && !alone.empty(); ++round)
    batches.push_back({round, true, alone});
  return batches;
}

std::string filter_of(const std::vector<std::string>& tests) {
  std::string filter;
  for (const auto& test : tests) filter += (filter.empty() ? "" : ":") + test;
  return filter;
}

}  // namespace csd::report
