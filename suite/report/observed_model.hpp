// Which design each implementation showed when watched (suite/observe), as
// shape/declared-model's figures recorded it: for report.json's
// "implementations" (observed_model), a line under the implementation's
// row of the terminal summary, and report.html's matrix header.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "summary.hpp"

namespace csd::report {

struct ObservedModel {
  std::string model;                  // fork, ..., unknown
  std::string words;                  // "a pool of 4 processes, each sleeps in accept4()"
  std::string declared;               // the manifest's model, or "auto"; "" if not recorded
  std::vector<std::string> evidence;  // a line per step of the workload
};

// By implementation row (NAME@ipv6 folded into NAME): the first
// shape/declared-model observation of each implementation that has one.
std::map<std::string, ObservedModel, std::less<>> observed_models(const Summary& summary);

// What the summary says under an implementation's row, "" where there is
// nothing to add (the observation is the model declared): "model auto:
// observed prefork: WORDS", "declared prefork, observed fork: WORDS".
std::string observed_model_note(const ObservedModel& observed);

// report.json's "observed_model" of an implementation: {"model", "observed"
// (the words), "declared", "evidence"}.
nlohmann::ordered_json to_json(const ObservedModel& observed);

}  // namespace csd::report
