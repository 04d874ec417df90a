#include "demos.hpp"

#include <algorithm>
#include <map>

namespace csd::suite {

namespace {

std::map<std::string, std::filesystem::path, std::less<>>& overrides() {
  static std::map<std::string, std::filesystem::path, std::less<>> paths;
  return paths;
}

}  // namespace

const std::vector<std::string>& demo_names() {
  static const std::vector<std::string> names{"csd-rstserver", "csd-sigpipe", "csd-selsigrace",
                                              "csd-selfpipe",  "csd-pselect", "csd-signalfd",
                                              "csd-sendfile",  "csd-cork"};
  return names;
}

std::filesystem::path demo_path(std::string_view name) {
  if (const auto found = overrides().find(name); found != overrides().end())
    return found->second;
  return harness::own_bin_dir() / std::string(name);
}

bool override_demo(std::string_view spec) {
  const auto equals = spec.find('=');
  if (equals == std::string_view::npos)
    return false;
  const std::string name(spec.substr(0, equals));
  if (std::find(demo_names().begin(), demo_names().end(), name) == demo_names().end())
    return false;
  overrides()[name] = std::filesystem::absolute(spec.substr(equals + 1));
  return true;
}

std::vector<std::string> demo_override_flags() {
  std::vector<std::string> flags;
  for (const auto& [name, path] : overrides())
    flags.insert(flags.end(), {"--demo", name + "=" + path.string()});
  return flags;
}

std::unique_ptr<harness::ServerProcess> start_demo_server(std::string_view name,
                                                          const std::vector<std::string>& flags) {
  harness::Manifest demo;
  demo.name = std::string(name);
  demo.command = {demo_path(name).string(), "-i", "{host}", "-p", "{port}"};
  demo.command.insert(demo.command.end(), flags.begin(), flags.end());
  demo.model = "iterative";  // one process, no workers: what every listening demo is
  demo.traits = harness::traits_of_model(demo.model);
  return harness::ServerProcess::start(demo);
}

}  // namespace csd::suite
