#include "identify.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string_view>

#include "auto_model.hpp"
#include "manifest.hpp"
#include "observe.hpp"
#include "timeouts.hpp"

namespace csd::tools {

namespace {

namespace fs = std::filesystem;
using observe::Identification;

std::vector<harness::Manifest> load(const std::vector<std::string>& paths) {
  const std::vector<fs::path> search{harness::own_bin_dir()};
  if (paths.empty())
    return harness::load_manifest_dir(harness::default_impl_dir(), search);
  std::vector<harness::Manifest> manifests;
  for (const auto& path : paths) {
    if (fs::is_directory(path)) {
      for (auto& m : harness::load_manifest_dir(path, search)) manifests.push_back(std::move(m));
    } else {
      manifests.push_back(harness::load_manifest(path, search));
    }
  }
  return manifests;
}

// $CSD_IMPL as csd-suite reads it: A.json:B.json:DIR, empty items left out.
std::vector<std::string> csd_impl_paths() {
  std::vector<std::string> paths;
  const char* env = std::getenv("CSD_IMPL");
  std::string_view list = env != nullptr ? env : "";
  while (!list.empty()) {
    const auto colon = list.find(':');
    if (colon != 0)
      paths.emplace_back(list.substr(0, colon));
    if (colon == std::string_view::npos)
      break;
    list.remove_prefix(colon + 1);
  }
  return paths;
}

std::string observed(const Identification& id) {
  return id.problem.empty() ? id.verdict.model : "not observed";
}

void print_text(const Identification& id, std::ostream& out) {
  out << fmt::format("{}: {} (declared {})\n  {}\n", id.name, observed(id), id.declared,
                     id.verdict.summary);
  if (id.problem.empty()) {
    for (const auto& line : id.verdict.evidence) out << "    " << line << "\n";
  }
}

nlohmann::json to_json(const Identification& id, const harness::Manifest& m) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& shot : id.observation.steps) steps.push_back(observe::to_json(shot));
  nlohmann::json j = {{"name", id.name},
                      {"manifest", fs::absolute(m.path).string()},
                      {"declared_model", id.declared},
                      {"observed_model", id.verdict.model},
                      {"summary", id.verdict.summary},
                      {"evidence", id.verdict.evidence},
                      {"facts", observe::to_json(id.verdict.facts)},
                      {"steps", steps}};
  if (!id.problem.empty())
    j["problem"] = id.problem;
  return j;
}

// One row of a Markdown table; `|` in the words escaped.
std::string markdown_row(const Identification& id, const harness::Manifest& m) {
  std::string summary = id.verdict.summary;
  for (std::size_t at = summary.find('|'); at != std::string::npos; at = summary.find('|', at + 2))
    summary.replace(at, 1, "\\|");
  const std::string mark = id.declared == harness::kAutoModel ? "(auto)"
                           : observed(id) == id.declared      ? "yes"
                                                              : "**no**";
  return fmt::format("| {} | `{}` | {} | {} | {} |\n", id.name, m.path.string(), id.declared, mark,
                     summary);
}

}  // namespace

void add_identify_options(CLI::App& app, IdentifyOptions& options) {
  app.add_flag("--identify", options.requested,
               "Run no check: observe each server (idle, one connection, 4 at once, released) "
               "and say which design it follows, with the evidence (docs/IDENTIFY.md)");
  app.add_option("--format", options.format,
                 "With --identify: text (the default), json, or markdown (a table)")
      ->check(CLI::IsMember({"text", "json", "markdown"}));
}

int identify(const std::vector<std::string>& paths, const IdentifyOptions& options,
             std::optional<double> timeout_multiplier) {
  if (timeout_multiplier)
    harness::set_timeout_multiplier(*timeout_multiplier);
  std::vector<harness::Manifest> manifests;
  try {
    manifests = load(paths);
  } catch (const std::exception& e) {  // ManifestError: "PATH: field 'F': problem"
    std::cerr << "csd-report: " << e.what() << "\n";
    return 2;
  }
  nlohmann::json all = nlohmann::json::array();
  if (options.format == "markdown") {
    std::cout << "| implementation | manifest | declared | observed as declared | observed |\n"
                 "|---|---|---|---|---|\n";
  }
  int unobserved = 0;
  int as_declared = 0;
  int automatic = 0;  // "model": "auto": nothing declared to agree with
  for (const auto& m : manifests) {
    const Identification id = observe::identify(m);
    unobserved += id.problem.empty() ? 0 : 1;
    as_declared += observed(id) == id.declared ? 1 : 0;
    automatic += id.declared == harness::kAutoModel ? 1 : 0;
    if (options.format == "json")
      all.push_back(to_json(id, m));
    else if (options.format == "markdown")
      std::cout << markdown_row(id, m);
    else
      print_text(id, std::cout);
    std::cout.flush();
  }
  if (options.format == "json") {
    std::cout << nlohmann::json{{"format", "csd-identify/1"}, {"identifications", all}}.dump(2)
              << "\n";
  } else if (options.format == "text") {
    std::cout << fmt::format("{} of {} observed as declared{}\n", as_declared,
                             manifests.size() - automatic,
                             automatic > 0 ? fmt::format(", {} auto", automatic) : "");
  }
  return unobserved > 0 ? 1 : 0;
}

std::vector<std::string> observe_auto_models(const std::vector<std::string>& paths,
                                             std::optional<double> timeout_multiplier) {
  if (timeout_multiplier)
    harness::set_timeout_multiplier(*timeout_multiplier);
  std::vector<harness::Manifest> manifests;
  try {
    manifests = paths.empty() ? load(csd_impl_paths()) : load(paths);
  } catch (const std::exception&) {  // csd-suite refuses it, with the same message
    return {};
  }
  std::vector<std::string> flags;
  for (auto& m : manifests) {
    if (!m.model_auto)
      continue;
    std::cerr << "csd-report: " << observe::observe_auto_model(m) << "\n" << std::flush;
    flags.insert(flags.end(), {"--assume-model", m.name + "=" + m.observed_model});
  }
  return flags;
}

}  // namespace csd::tools
