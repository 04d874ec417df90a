// csd-report --identify: observes each manifest's server under a short
// workload (suite/observe) and says which design it follows, with the
// evidence, as text, JSON or a Markdown table; runs no check.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

namespace csd::tools {

struct IdentifyOptions {
  bool requested = false;       // --identify
  std::string format = "text";  // text, json, markdown
};

// Adds --identify and --format to `app`.
void add_identify_options(CLI::App& app, IdentifyOptions& options);

// Observes the servers of `manifests` (files, or folders of them; none: the
// reference implementations) one after the other and prints what each is.
// 0 when each was observed (its design known or not), 1 when a server could
// not be (it did not start, or a limit stopped it), 2 for a manifest that
// cannot be used.
// `timeout_multiplier` scales the observation's deadlines (--timeout-multiplier).
int identify(const std::vector<std::string>& manifests, const IdentifyOptions& options,
             std::optional<double> timeout_multiplier);

// "model": "auto" in a run: watches the server of each auto manifest among
// `manifests` (as csd-suite reads them; none: $CSD_IMPL) once, says on
// stderr what each showed, and returns the csd-suite flags that hand the
// models to every csd-suite of the run (--assume-model NAME=MODEL), so that
// they all register the same tests. A manifest that cannot be used is left
// for csd-suite to refuse.
std::vector<std::string> observe_auto_models(const std::vector<std::string>& manifests,
                                             std::optional<double> timeout_multiplier);

}  // namespace csd::tools
