// The summary, computed from the runs' JSON alone: what a repetition
// measured is kept in the runs, and everything shown is derived from there.
#include <algorithm>
#include <map>
#include <optional>

#include "bench.hpp"
#include "stats.hpp"

namespace csd::bench {

namespace {

using Runs = std::vector<const json*>;

// The nearest-rank median: a value some run measured (of two, the lower).
double median(std::vector<double> values) { return harness::percentile(std::move(values), 0.5); }

// Every figure the runs have (the "figures" of measure_run), as its median
// over the runs that have it: a figure a server does not report is null.
json medians(const Runs& valid) {
  std::map<std::string, std::vector<double>> values;
  for (const json* run : valid) {
    for (const auto& figure : (*run)["figures"].items()) {
      if (figure.value().is_number())
        values[figure.key()].push_back(figure.value().get<double>());
    }
  }
  json out = json::object();
  for (auto& [name, all] : values) out[name] = median(std::move(all));
  return out;
}

// The per-worker counts summed over the runs, and how far from even they are.
json distribution(const Runs& valid) {
  std::vector<int64_t> total;
  for (const json* run : valid) {
    const auto counts = (*run)["server"]["worker_counts"].get<std::vector<int64_t>>();
    total.resize(std::max(total.size(), counts.size()), 0);
    for (std::size_t i = 0; i < counts.size(); ++i) total[i] += counts[i];
  }
  if (total.empty())
    return nullptr;
  const auto d = harness::summarize_distribution(total);
  return {{"counts", d.counts},
          {"chi_square", d.chi_square},
          {"p_value", d.p_value},
          {"max_over_min", d.min > 0 ? json(d.max_over_min) : json(nullptr)}};
}

// What went wrong in any run, valid or not, each note once.
void add_health(const Runs& all, json& row) {
  uint64_t failed = 0;
  uint64_t overflows = 0;
  uint64_t time_wait = 0;
  bool port_limited = false;
  std::vector<std::string> notes;
  const auto note = [&](const std::string& text) {
    if (std::ranges::find(notes, text) == notes.end())
      notes.push_back(text);
  };
  for (const json* run : all) {
    if (!run->value("valid", false))
      note("invalid run: " + run->value("invalid_reason", std::string()));
    for (const auto& text : (*run)["notes"]) note(text.get<std::string>());
    if (!run->contains("load"))
      continue;  // did not get as far as the load
    failed += (*run)["load"]["failed"].get<uint64_t>();
    overflows += (*run)["system"]["listen_overflows"].get<uint64_t>();
    time_wait = std::max(time_wait, (*run)["system"]["time_wait"].get<uint64_t>());
    port_limited = port_limited || (*run)["port_limited"].get<bool>();
  }
  row["failed_connections"] = failed;
  row["port_limited"] = port_limited;
  row["listen_overflows"] = overflows;
  row["time_wait_max"] = time_wait;
  row["notes"] = notes;
}

json summarize_design(const json& design, std::size_t point, const Runs& all) {
  Runs valid;
  std::ranges::copy_if(all, std::back_inserter(valid),
                       [](const json* run) { return (*run)["valid"].get<bool>(); });
  json row{{"design", design["name"]},
           {"model", design["model"]},
           {"baseline", design["baseline"]},
           {"point", point},
           {"runs", all.size()},
           {"valid_runs", valid.size()},
           {"median", medians(valid)},
           {"distribution", distribution(valid)}};
  if (!valid.empty()) {
    const auto [slowest, fastest] = std::ranges::minmax(
        valid, {}, [](const json* run) { return (*run)["figures"]["conns_per_s"].get<double>(); });
    row["conns_per_s_range"] = {(*slowest)["figures"]["conns_per_s"],
                                (*fastest)["figures"]["conns_per_s"]};
  }
  row["wakeups_lower_bound"] = std::ranges::any_of(
      valid, [](const json* run) { return (*run)["server"]["wakeups_lower_bound"].get<bool>(); });
  add_health(all, row);
  return row;
}

// conn/s over the baseline's in the same repetition, over the repetitions in
// which both runs are valid. A repetition's runs are interleaved and see one
// state of the machine, so pairing by repetition cancels most of the drift
// between repetitions that widens the spread of either figure alone.
json paired_ratio(const Runs& design_runs, const Runs& baseline_runs) {
  std::vector<double> ratios;
  for (const json* run : design_runs) {
    for (const json* base : baseline_runs) {
      const double base_rate = (*base)["figures"]["conns_per_s"].get<double>();
      if ((*base)["rep"] == (*run)["rep"] && (*run)["valid"].get<bool>() &&
          (*base)["valid"].get<bool>() && base_rate > 0) {
        ratios.push_back((*run)["figures"]["conns_per_s"].get<double>() / base_rate);
      }
    }
  }
  if (ratios.empty())
    return nullptr;
  const auto [low, high] = std::ranges::minmax(ratios);
  return {{"median", median(ratios)}, {"min", low}, {"max", high}, {"reps", ratios.size()}};
}

}  // namespace

json summarize(const json& document) {
  const json& designs = document["designs"];  // the baseline first (find_designs)
  std::map<std::string, std::size_t> index;
  for (std::size_t d = 0; d < designs.size(); ++d) index[designs[d]["name"]] = d;
  json summary = json::array();
  for (std::size_t point = 0; point < document["points"].size(); ++point) {
    std::vector<Runs> runs(designs.size());
    for (const json& run : document["runs"]) {
      if (run["point"] == point)
        runs[index.at(run["design"])].push_back(&run);
    }
    std::optional<double> baseline_cpu;
    for (std::size_t d = 0; d < designs.size(); ++d) {
      if (runs[d].empty())
        continue;  // interrupted before this design ran at this point
      json row = summarize_design(designs[d], point, runs[d]);
      row["vs_baseline"] = paired_ratio(runs[d], runs[0]);
      const auto cpu = row["median"].find("server_cpu_us_per_conn");
      const bool measured = cpu != row["median"].end();
      if (d == 0 && measured)
        baseline_cpu = cpu->get<double>();
      // Stevens' process control CPU time: what the design costs beyond serving the request.
      row["overhead_us_per_conn"] =
          measured && baseline_cpu ? json(cpu->get<double>() - *baseline_cpu) : json(nullptr);
      summary.push_back(std::move(row));
    }
  }
  return summary;
}

}  // namespace csd::bench
