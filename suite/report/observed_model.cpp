#include "observed_model.hpp"

#include <fmt/format.h>

namespace csd::report {

namespace {

std::string figure(const Outcome& test, const char* name) {
  const auto found = test.figures.find(name);
  return found == test.figures.end() ? std::string() : found->second;
}

// "prefork: a pool of ..." -> "a pool of ...": the words without the model.
std::string words_of(const std::string& summary, const std::string& model) {
  const std::string prefix = model + ": ";
  return summary.starts_with(prefix) ? summary.substr(prefix.size()) : summary;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t from = 0;
  while (from < text.size()) {
    const auto end = text.find('\n', from);
    lines.push_back(text.substr(from, end == std::string::npos ? end : end - from));
    if (end == std::string::npos)
      break;
    from = end + 1;
  }
  return lines;
}

}  // namespace

std::map<std::string, ObservedModel, std::less<>> observed_models(const Summary& summary) {
  std::map<std::string, ObservedModel, std::less<>> by_row;
  for (const Outcome& test : summary.tests) {
    const std::string model = figure(test, "observed_model");
    if (model.empty())
      continue;
    // The first one: NAME's own, before its copy's on ::1, as the tests ran.
    by_row.try_emplace(
        std::string(row_of(test.implementation)),
        ObservedModel{model, words_of(figure(test, "observed"), model),
                      figure(test, "declared_model"), lines_of(figure(test, "observed_evidence"))});
  }
  return by_row;
}

std::string observed_model_note(const ObservedModel& observed) {
  if (observed.declared.empty() || observed.declared == observed.model)
    return {};
  const std::string seen = fmt::format("observed {}: {}", observed.model, observed.words);
  return observed.declared == "auto" ? "model auto: " + seen
                                     : fmt::format("declared {}, {}", observed.declared, seen);
}

nlohmann::ordered_json to_json(const ObservedModel& observed) {
  nlohmann::ordered_json j = {{"model", observed.model}, {"observed", observed.words}};
  if (!observed.declared.empty())
    j["declared"] = observed.declared;
  j["evidence"] = observed.evidence;
  return j;
}

}  // namespace csd::report
