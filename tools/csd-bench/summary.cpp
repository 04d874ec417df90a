#include "summary.hpp"

#include <algorithm>
#include <chrono>
#include <functional>

namespace csd::bench {

namespace {

using Runs = std::vector<const RunRecord*>;

// Sorts `values`.
std::optional<double> median_of(std::vector<double>& values) {
  if (values.empty())
    return std::nullopt;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::optional<double> median_of(const Runs& runs,
                                const std::function<double(const RunRecord&)>& figure) {
  std::vector<double> values;
  values.reserve(runs.size());
  for (const auto* r : runs) values.push_back(figure(*r));
  return median_of(values);
}

// Latency percentiles over every valid run's connections together: more
// samples than any one run, so p99.9 means something.
void pool_latencies(const Runs& valid, Summary& s) {
  std::vector<std::chrono::nanoseconds> all;
  for (const auto* r : valid)
    all.insert(all.end(), r->load.latencies.begin(), r->load.latencies.end());
  if (all.empty())
    return;
  std::sort(all.begin(), all.end());
  client::LoadReport pooled;
  pooled.latencies = std::move(all);
  auto us = [&](double q) {
    return std::chrono::duration<double, std::micro>(pooled.latency_percentile(q)).count();
  };
  s.p50_us.value = us(0.50);
  s.p99_us.value = us(0.99);
  s.p999_us.value = us(0.999);
  s.max_us.value = us(1.0);
}

void sum_distribution(const Runs& valid, Summary& s) {
  std::vector<int64_t> total;
  for (const auto* r : valid) {
    const auto& counts = r->server.worker_counts;
    if (total.size() < counts.size())
      total.resize(counts.size(), 0);
    for (std::size_t i = 0; i < counts.size(); ++i) total[i] += counts[i];
  }
  if (!total.empty())
    s.distribution = harness::summarize_distribution(total);
}

void add_health(const Runs& all, Summary& s) {
  for (const auto* r : all) {
    s.failed_connections += r->load.failures();
    s.listen_overflows += r->system.listen_overflows.value_or(0);
    if (r->system.time_wait)
      s.time_wait_max = std::max(s.time_wait_max.value_or(0), *r->system.time_wait);
    s.port_limited = s.port_limited || r->port_limited;
    auto add_note = [&](const std::string& note) {
      if (std::find(s.notes.begin(), s.notes.end(), note) == s.notes.end())
        s.notes.push_back(note);
    };
    if (!r->valid)
      add_note("invalid run: " + r->invalid_reason);
    for (const auto& note : r->notes) add_note(note);
  }
}

Summary summarize_one(const Runs& all, const Design& design, std::size_t design_index,
                      std::size_t point) {
  Summary s;
  s.design = design_index;
  s.point = point;
  s.name = design.name();
  s.model = design.manifest.model;
  s.baseline = design.baseline;
  if (!all.empty()) {
    s.clients = all.front()->spec.clients;
    s.conns = all.front()->spec.conns;
    s.bytes = all.front()->spec.bytes;
  }
  s.runs = static_cast<int>(all.size());
  Runs valid;
  std::copy_if(all.begin(), all.end(), std::back_inserter(valid),
               [](const RunRecord* r) { return r->valid; });
  s.valid_runs = static_cast<int>(valid.size());

  s.conns_per_s.value = median_of(valid, [](const RunRecord& r) { return r.conns_per_second(); });
  if (!valid.empty()) {
    auto [lo, hi] =
        std::minmax_element(valid.begin(), valid.end(), [](const RunRecord* a, const RunRecord* b) {
          return a->conns_per_second() < b->conns_per_second();
        });
    s.conns_per_s_min = (*lo)->conns_per_second();
    s.conns_per_s_max = (*hi)->conns_per_second();
  }
  pool_latencies(valid, s);
  s.server_cpu_us.value =
      median_of(valid, [](const RunRecord& r) { return r.server_cpu_us_per_conn(); });
  s.system_cpu_us.value =
      median_of(valid, [](const RunRecord& r) { return r.system_cpu_us_per_conn(); });
  s.system_busy = median_of(valid, [](const RunRecord& r) { return r.system_busy_share(); });
  s.wakeups.value = median_of(valid, [](const RunRecord& r) { return r.wakeups_per_conn(); });
  s.wakeups_lower_bound = std::any_of(
      valid.begin(), valid.end(), [](const RunRecord* r) { return r->server.wakeups_lower_bound; });
  Runs reporting;
  std::copy_if(valid.begin(), valid.end(), std::back_inserter(reporting),
               [](const RunRecord* r) { return r->eagain_per_conn().has_value(); });
  s.eagain_per_conn = median_of(reporting, [](const RunRecord& r) { return *r.eagain_per_conn(); });
  sum_distribution(valid, s);
  add_health(all, s);
  return s;
}

std::optional<double> ratio(const std::optional<double>& value, const std::optional<double>& base) {
  if (!value || !base || *base <= 0)
    return std::nullopt;
  return *value / *base;
}

void add_ratios(Summary& s, const Summary& base) {
  for (auto member :
       {&Summary::conns_per_s, &Summary::p50_us, &Summary::p99_us, &Summary::p999_us,
        &Summary::max_us, &Summary::server_cpu_us, &Summary::system_cpu_us, &Summary::wakeups}) {
    (s.*member).ratio = ratio((s.*member).value, (base.*member).value);
  }
  if (s.server_cpu_us.value && base.server_cpu_us.value) {
    s.server_cpu_minus_baseline_us = *s.server_cpu_us.value - *base.server_cpu_us.value;
  }
}

// The design's valid runs at `point` against the baseline's of the same repetition.
std::optional<PairedRatio> paired_by_rep(const std::vector<RunRecord>& runs, std::size_t design,
                                         std::size_t baseline, std::size_t point) {
  auto valid_run = [&](std::size_t d, int rep) -> const RunRecord* {
    const auto it = std::find_if(runs.begin(), runs.end(), [&](const RunRecord& r) {
      return r.valid && r.spec.design == d && r.spec.point == point && r.spec.rep == rep;
    });
    return it == runs.end() ? nullptr : &*it;
  };
  std::vector<double> ratios;
  for (const auto& r : runs) {
    if (!r.valid || r.spec.design != design || r.spec.point != point)
      continue;
    const RunRecord* base = valid_run(baseline, r.spec.rep);
    if (base != nullptr && base->conns_per_second() > 0)
      ratios.push_back(r.conns_per_second() / base->conns_per_second());
  }
  if (ratios.empty())
    return std::nullopt;
  const auto [lo, hi] = std::ranges::minmax(ratios);  // values: median_of() reorders `ratios`
  return PairedRatio{*median_of(ratios), lo, hi, static_cast<int>(ratios.size())};
}

}  // namespace

std::vector<Summary> summarize(const std::vector<RunRecord>& runs, const DesignList& designs,
                               const std::vector<LoadPoint>& points) {
  std::vector<Summary> out;
  for (std::size_t p = 0; p < points.size(); ++p) {
    const std::size_t first = out.size();
    for (std::size_t d = 0; d < designs.designs.size(); ++d) {
      Runs mine;
      for (const auto& r : runs) {
        if (r.spec.design == d && r.spec.point == p)
          mine.push_back(&r);
      }
      if (mine.empty())
        continue;  // interrupted before this design ran here
      out.push_back(summarize_one(mine, designs.designs[d], d, p));
    }
    const auto base = std::find_if(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                                   [](const Summary& s) { return s.baseline; });
    if (base == out.end())
      continue;
    const Summary baseline = *base;
    for (auto it = out.begin() + static_cast<std::ptrdiff_t>(first); it != out.end(); ++it) {
      add_ratios(*it, baseline);
      it->conns_per_s_per_rep = paired_by_rep(runs, it->design, baseline.design, p);
    }
  }
  return out;
}

}  // namespace csd::bench
