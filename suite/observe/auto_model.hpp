// "model": "auto" (docs/IDENTIFY.md): a manifest that leaves its design to be
// observed. csd-suite watches each such server once, before it registers its
// checks, and the manifest becomes the model seen; csd-report does it once
// for all the csd-suite processes of a run and hands each the result
// (csd-suite --assume-model NAME=MODEL), so that they all register the
// same tests.
#pragma once

#include <string>

#include "manifest.hpp"
#include "observe.hpp"

namespace csd::observe {

// Watches the server of an auto manifest (identify()) and makes the manifest
// the model observed (harness::assume_model: `unknown`, and a server that
// does not start, leave it other). Returns what was seen, for the terminal:
// "NAME: model auto: observed prefork: a pool of 4 processes, each sleeps in
// accept4()".
std::string observe_auto_model(harness::Manifest& manifest, const ObserveOptions& options = {});

// The line for a model observed earlier: "NAME: model auto: observed
// prefork: WORDS", and for a model that is not one of the table's, which
// checks the server then gets.
std::string auto_model_line(const harness::Manifest& manifest, const std::string& summary);

}  // namespace csd::observe
