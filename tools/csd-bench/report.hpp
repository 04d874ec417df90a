// The outputs: the Markdown tables (one per load point, UNP Figure 30.1's
// shape) and the JSON document with every raw run and the summary.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "designs.hpp"
#include "measure.hpp"
#include "options.hpp"
#include "summary.hpp"
#include "system.hpp"

namespace csd::bench {

struct BenchResult {
  MachineInfo machine;
  const Options* options = nullptr;
  const DesignList* designs = nullptr;
  std::vector<LoadPoint> points;
  std::vector<RunRecord> runs;  // in the order they ran
  std::vector<Summary> summary;
  std::size_t planned_runs = 0;
  bool interrupted = false;
};

std::string markdown_report(const BenchResult& result);
nlohmann::json json_report(const BenchResult& result);

// "5 clients x 60 conns x 4000 bytes" (and the baseline's own load when it differs).
std::string point_title(const LoadPoint& point);

}  // namespace csd::bench
