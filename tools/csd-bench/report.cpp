#include "report.hpp"

#include <cmath>

#include <fmt/format.h>

namespace csd::bench {

namespace {

using nlohmann::json;

// ---- Markdown ------------------------------------------------------------------------

constexpr const char* kNone = "-";

std::string ratio_text(const std::optional<double>& ratio) {
  return ratio ? fmt::format(" ×{:.2f}", *ratio) : std::string();
}

// "12345 ×1.05": the value with `decimals`, then its ratio to the baseline.
std::string cell(const Figure& f, int decimals, const std::string& prefix = "") {
  if (!f.value)
    return kNone;
  return fmt::format("{}{:.{}f}{}", prefix, *f.value, decimals, ratio_text(f.ratio));
}

std::string spread_text(const Summary& s) {
  if (!s.conns_per_s.value || *s.conns_per_s.value <= 0 || !s.conns_per_s_min || !s.conns_per_s_max)
    return kNone;
  const double half_range = (*s.conns_per_s_max - *s.conns_per_s_min) / 2;
  return fmt::format("±{:.1f}%", 100.0 * half_range / *s.conns_per_s.value);
}

// "0.98 (0.91–1.05)": the median of the per-repetition ratios and their range.
std::string per_rep_text(const Summary& s) {
  if (!s.conns_per_s_per_rep)
    return kNone;
  const PairedRatio& r = *s.conns_per_s_per_rep;
  if (r.reps == 1)
    return fmt::format("{:.2f}", r.median);
  return fmt::format("{:.2f} ({:.2f}–{:.2f})", r.median, r.min, r.max);
}

std::string counts_text(const Summary& s) {
  if (!s.distribution)
    return kNone;
  return fmt::format("{}", fmt::join(s.distribution->counts, " "));
}

std::string max_min_text(const Summary& s) {
  if (!s.distribution)
    return kNone;
  if (s.distribution->min == 0)
    return "∞";
  return fmt::format("{:.2f}", s.distribution->max_over_min);
}

std::string chi_square_text(const Summary& s) {
  if (!s.distribution || s.distribution->counts.size() < 2)
    return kNone;
  return fmt::format("{:.1f} (p {:.2g})", s.distribution->chi_square, s.distribution->p_value);
}

std::string optional_text(const std::optional<double>& v, int decimals) {
  return v ? fmt::format("{:.{}f}", *v, decimals) : std::string(kNone);
}

std::string design_text(const Summary& s) { return s.baseline ? s.name + " (baseline)" : s.name; }

std::string table_row(const Summary& s) {
  const std::vector<std::string> cells{
      design_text(s),
      s.model,
      cell(s.conns_per_s, 0),
      spread_text(s),
      per_rep_text(s),
      cell(s.p50_us, 0),
      cell(s.p99_us, 0),
      cell(s.p999_us, 0),
      cell(s.max_us, 0),
      cell(s.server_cpu_us, 1),
      s.server_cpu_minus_baseline_us ? fmt::format("{:+.1f}", *s.server_cpu_minus_baseline_us)
                                     : kNone,
      cell(s.system_cpu_us, 1),
      s.system_busy ? fmt::format("{:.0f}%", 100 * *s.system_busy) : kNone,
      cell(s.wakeups, 2, s.wakeups_lower_bound ? "≥" : ""),
      optional_text(s.eagain_per_conn, 2),
      counts_text(s),
      max_min_text(s),
      chi_square_text(s),
      fmt::format("{}/{}", s.valid_runs, s.runs),
      fmt::format("{}{}", s.failed_connections, s.port_limited ? " (ports!)" : ""),
      fmt::format("{}", s.listen_overflows),
      s.time_wait_max ? fmt::format("{}", *s.time_wait_max) : kNone,
  };
  return fmt::format("| {} |\n", fmt::join(cells, " | "));
}

constexpr const char* kTableHeader =
    "| design | model | conn/s | spread | × per rep | p50 µs | p99 µs | p99.9 µs | max µs | server "
    "CPU µs/conn | − "
    "baseline µs "
    "| system CPU µs/conn | CPU busy | wake-ups/conn | EAGAIN/conn | per-worker counts | max/min | "
    "χ² (p) | valid runs "
    "| failed conns | listen overflows | TIME_WAIT |\n"
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|\n";

// The last of `count` loopback source addresses from 127.0.0.1 (as run_load counts them).
std::string last_source(int count) {
  const auto last = static_cast<uint32_t>(count);
  return fmt::format("127.{}.{}.{}", (last >> 16) & 0xff, (last >> 8) & 0xff, last & 0xff);
}

std::string header(const BenchResult& r) {
  const auto& m = r.machine;
  const auto& o = *r.options;
  std::string out = "# csd-bench: UNP Figure 30.1 on this machine\n\n| | |\n|---|---|\n";
  auto row = [&](std::string_view key, const std::string& value) {
    out += fmt::format("| {} | {} |\n", key, value);
  };
  row("date", m.date);
  row("kernel", m.kernel);
  row("cores", fmt::format("{}", m.cores));
  row("ip_local_port_range", fmt::format("{} ({} ports)", m.port_range, m.port_count));
  row("tcp_tw_reuse", m.tcp_tw_reuse);
  row("somaxconn", m.somaxconn);
  row("compiler", m.compiler);
  row("build type", m.build_type);
  row("command", fmt::format("`{}`", fmt::join(o.argv, " ")));
  row("repetitions",
      fmt::format(
          "{}, every design once in each, in a shuffled order (--seed {}), a fresh server per run",
          o.reps, o.seed));
  row("load client",
      fmt::format("csd_clientlib run_load, size protocol, connections bound across 127.0.0.1..{}",
                  last_source(o.sources)));
  row("baseline",
      fmt::format("{}: every ×r is a ratio to its figure at the same load point", kBaselineName));
  if (r.interrupted)
    row("interrupted", fmt::format("after {} of {} runs", r.runs.size(), r.planned_runs));
  return out;
}

std::string skipped_section(const DesignList& designs) {
  if (designs.skipped.empty())
    return "";
  std::string out = "\nSkipped manifests:\n\n";
  for (const auto& s : designs.skipped) out += fmt::format("- {}\n", s);
  return out;
}

std::string notes_for(const std::vector<Summary>& rows) {
  std::string out;
  for (const auto& s : rows) {
    for (const auto& note : s.notes) out += fmt::format("- {}: {}\n", s.name, note);
  }
  return out.empty() ? "" : "\nNotes:\n\n" + out;
}

// ---- JSON ----------------------------------------------------------------------------

template <typename T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json figure_json(const Figure& f) { return {{"value", opt(f.value)}, {"ratio", opt(f.ratio)}}; }

json per_rep_json(const std::optional<PairedRatio>& r) {
  if (!r)
    return nullptr;
  return {{"median", r->median}, {"min", r->min}, {"max", r->max}, {"reps", r->reps}};
}

json distribution_json(const harness::DistributionSummary& d) {
  return {{"counts", d.counts},
          {"total", d.total},
          {"min", d.min},
          {"max", d.max},
          {"max_over_min", std::isfinite(d.max_over_min) ? json(d.max_over_min) : json(nullptr)},
          {"chi_square", d.chi_square},
          {"p_value", d.p_value}};
}

json run_json(const RunRecord& r, std::size_t order) {
  const double conns = static_cast<double>(std::max<uint64_t>(r.connections(), 1));
  json load = r.load;
  json server{{"cpu_ns", r.server.cpu_ns},
              {"cpu_from_ticks", r.server.cpu_from_ticks},
              {"user_ticks", r.server.user_ticks},
              {"sys_ticks", r.server.sys_ticks},
              {"cpu_us_per_conn", r.server_cpu_us_per_conn()},
              {"wakeups", r.server.wakeups},
              {"wakeups_per_conn", r.wakeups_per_conn()},
              {"wakeups_lower_bound", r.server.wakeups_lower_bound},
              {"accept_eagain", opt(r.server.accept_eagain)},
              {"eagain_per_conn", opt(r.eagain_per_conn())},
              {"worker_counts", r.server.worker_counts},
              {"settled", r.server.settled},
              {"stopped_cleanly", r.server.stopped_cleanly},
              {"killed", r.server.killed}};
  json system{{"cpu_busy_ticks", r.system.cpu_busy_ticks},
              {"cpu_total_ticks", r.system.cpu_total_ticks},
              {"cpu_us_per_conn", r.system_cpu_us_per_conn()},
              {"cpu_utilization", r.system_busy_share()},
              {"listen_overflows", opt(r.system.listen_overflows)},
              {"listen_drops", opt(r.system.listen_drops)},
              {"time_wait", opt(r.system.time_wait)}};
  std::vector<int64_t> counts = r.server.worker_counts;
  return {{"order", order},
          {"design", r.design},
          {"model", r.model},
          {"point", r.spec.point},
          {"rep", r.spec.rep},
          {"clients", r.spec.clients},
          {"conns", r.spec.conns},
          {"bytes", r.spec.bytes},
          {"valid", r.valid},
          {"invalid_reason", r.invalid_reason},
          {"port_limited", r.port_limited},
          {"notes", r.notes},
          {"connections_per_s", r.conns_per_second()},
          {"load", load},
          {"server", server},
          {"system", system},
          {"client_cpu_us_per_conn",
           std::chrono::duration<double, std::micro>(r.system.client_cpu).count() / conns},
          {"distribution", counts.empty()
                               ? json(nullptr)
                               : distribution_json(harness::summarize_distribution(counts))}};
}

json summary_json(const Summary& s) {
  return {{"design", s.name},
          {"model", s.model},
          {"baseline", s.baseline},
          {"point", s.point},
          {"clients", s.clients},
          {"conns", s.conns},
          {"bytes", s.bytes},
          {"runs", s.runs},
          {"valid_runs", s.valid_runs},
          {"connections_per_s", figure_json(s.conns_per_s)},
          {"connections_per_s_min", opt(s.conns_per_s_min)},
          {"connections_per_s_max", opt(s.conns_per_s_max)},
          {"connections_per_s_ratio_per_rep", per_rep_json(s.conns_per_s_per_rep)},
          {"latency_us",
           {{"p50", figure_json(s.p50_us)},
            {"p99", figure_json(s.p99_us)},
            {"p999", figure_json(s.p999_us)},
            {"max", figure_json(s.max_us)}}},
          {"server_cpu_us_per_conn", figure_json(s.server_cpu_us)},
          {"server_cpu_minus_baseline_us", opt(s.server_cpu_minus_baseline_us)},
          {"system_cpu_us_per_conn", figure_json(s.system_cpu_us)},
          {"system_cpu_busy", opt(s.system_busy)},
          {"wakeups_per_conn", figure_json(s.wakeups)},
          {"wakeups_lower_bound", s.wakeups_lower_bound},
          {"eagain_per_conn", opt(s.eagain_per_conn)},
          {"distribution", s.distribution ? distribution_json(*s.distribution) : json(nullptr)},
          {"failed_connections", s.failed_connections},
          {"listen_overflows", s.listen_overflows},
          {"time_wait_max", opt(s.time_wait_max)},
          {"port_limited", s.port_limited},
          {"notes", s.notes}};
}

json point_json(const LoadPoint& p) {
  return {{"clients", p.clients},
          {"conns", p.conns},
          {"bytes", p.bytes},
          {"baseline_clients", p.baseline_clients},
          {"baseline_conns", p.baseline_conns}};
}

}  // namespace

std::string point_title(const LoadPoint& point) {
  std::string title =
      fmt::format("{} client{} × {} conns × {} bytes", point.clients, point.clients == 1 ? "" : "s",
                  point.conns, bytes_text(point.bytes));
  if (point.baseline_clients != point.clients || point.baseline_conns != point.conns) {
    title += fmt::format(" (baseline: {} × {})", point.baseline_clients, point.baseline_conns);
  }
  return title;
}

std::string markdown_report(const BenchResult& result) {
  std::string out = header(result);
  out += skipped_section(*result.designs);
  for (std::size_t p = 0; p < result.points.size(); ++p) {
    std::vector<Summary> rows;
    for (const auto& s : result.summary) {
      if (s.point == p)
        rows.push_back(s);
    }
    if (rows.empty())
      continue;
    out += fmt::format("\n## {}\n\n{}", point_title(result.points[p]), kTableHeader);
    for (const auto& s : rows) out += table_row(s);
    out += notes_for(rows);
  }
  return out;
}

json json_report(const BenchResult& result) {
  const auto& o = *result.options;
  json designs = json::array();
  for (const auto& d : result.designs->designs) {
    designs.push_back({{"name", d.name()},
                       {"model", d.manifest.model},
                       {"manifest", d.manifest.path.string()},
                       {"workers", d.manifest.workers},
                       {"baseline", d.baseline}});
  }
  json points = json::array();
  for (const auto& p : result.points) points.push_back(point_json(p));
  json runs = json::array();
  for (std::size_t i = 0; i < result.runs.size(); ++i) runs.push_back(run_json(result.runs[i], i));
  json summary = json::array();
  for (const auto& s : result.summary) summary.push_back(summary_json(s));
  return {{"tool", "csd-bench"},
          {"machine", result.machine},
          {"command", o.argv},
          {"options",
           {{"reps", o.reps},
            {"seed", o.seed},
            {"sources", o.sources},
            {"preset", o.preset},
            {"timeout_ms", o.timeout.count()}}},
          {"baseline", kBaselineName},
          {"designs", designs},
          {"skipped", result.designs->skipped},
          {"points", points},
          {"planned_runs", result.planned_runs},
          {"interrupted", result.interrupted},
          {"runs", runs},
          {"summary", summary}};
}

}  // namespace csd::bench
