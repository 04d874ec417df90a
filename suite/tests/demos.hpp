// The demo programs of impl/demos as the suite finds and starts them. Each
// is looked for next to csd-suite (build/bin), unless `csd-suite --demo
// NAME=PATH` says where another program plays its part: how csd-selftest
// puts a broken demo in, and how anyone checks their own version of one.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "manifest.hpp"
#include "server_process.hpp"

namespace csd::suite {

// Where demo `name` (e.g. "csd-rstserver") is.
std::filesystem::path demo_path(std::string_view name);

// From csd-suite's --demo NAME=PATH; false (and nothing set) when `spec`
// has no '=' or names no demo of impl/demos.
bool override_demo(std::string_view spec);

// The names of the demos the suite drives, for --help and for errors.
const std::vector<std::string>& demo_names();

// The --demo flags that put the programs given in, each "--demo" then
// "NAME=/absolute/path", for a line that reruns a test as this run ran it.
std::vector<std::string> demo_override_flags();

// A demo that listens, started the way a reference server is (leased port,
// csd-guard, ready on its "listening on" line): `csd-rstserver --graceful`
// is start_demo_server("csd-rstserver", {"--graceful"}).
std::unique_ptr<harness::ServerProcess> start_demo_server(std::string_view name,
                                                          const std::vector<std::string>& flags);

}  // namespace csd::suite
