#include "rerun.hpp"

#include <algorithm>
#include <filesystem>

#include "run.hpp"

namespace csd::harness {

namespace {

bool needs_no_quotes(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_@%+=:,./-").find(c) != std::string_view::npos;
}

std::string single_quoted(std::string_view word) {
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

}  // namespace

bool SuiteInvocation::has_flag(std::string_view flag) const {
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

nlohmann::json to_json(const SuiteInvocation& invocation) {
  nlohmann::json environment = nlohmann::json::object();
  for (const auto& [name, value] : invocation.environment) environment[name] = value;
  return {{"program", invocation.program},
          {"flags", invocation.flags},
          {"environment", environment},
          {"manifests", invocation.manifests}};
}

SuiteInvocation invocation_from_json(const nlohmann::json& value) {
  SuiteInvocation invocation;
  invocation.program = value.at("program").get<std::string>();
  invocation.flags = value.value("flags", std::vector<std::string>{});
  const nlohmann::json environment = value.value("environment", nlohmann::json::object());
  for (const auto& [name, setting] : environment.items())
    invocation.environment.emplace_back(name, setting.get<std::string>());
  invocation.manifests = value.value("manifests", std::map<std::string, std::string>{});
  return invocation;
}

std::string shell_quoted(std::string_view word) {
  if (!word.empty() && std::all_of(word.begin(), word.end(), needs_no_quotes))
    return std::string(word);
  return single_quoted(word);
}

std::string shell_line(const std::vector<std::string>& words) {
  std::string line;
  for (const auto& word : words) line += (line.empty() ? "" : " ") + shell_quoted(word);
  return line;
}

std::string gtest_filter_pattern(std::string_view test) {
  std::string pattern(test);
  std::replace_if(
      pattern.begin(), pattern.end(),
      [](char c) { return c == ':' || c == '-' || c == '*' || c == '?'; }, '?');
  return pattern;
}

std::string rerun_command(const SuiteInvocation& invocation, std::string_view manifest,
                          std::string_view test, bool exit_nonzero_on_warning) {
  std::string line;
  for (const auto& [name, value] : invocation.environment)
    line += name + "=" + shell_quoted(value) + " ";
  std::vector<std::string> words{invocation.program};
  if (!manifest.empty())
    words.insert(words.end(), {"--impl", std::string(manifest)});
  words.insert(words.end(), invocation.flags.begin(), invocation.flags.end());
  if (exit_nonzero_on_warning && !invocation.has_flag("--strict"))
    words.emplace_back("--strict");
  // The filter always in single quotes: it is what a person edits.
  return line + shell_line(words) + " --gtest_filter=" + single_quoted(gtest_filter_pattern(test));
}

std::string by_hand_command(std::string_view by_hand, std::string_view host,
                            const std::string& bin_dir) {
  std::string line(by_hand);
  replace_all(line, "{host}", shell_quoted(host));
  replace_all(line, "{port}", "PORT");
  const auto end_of_program = line.find(' ');
  const std::filesystem::path program =
      std::filesystem::path(bin_dir) / line.substr(0, end_of_program);
  if (line.substr(0, end_of_program).find('/') == std::string::npos && is_executable_file(program))
    line.replace(0, end_of_program, shell_quoted(program.string()));
  return line;
}

}  // namespace csd::harness
