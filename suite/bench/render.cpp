// The tables, rendered from the document's summary: one per load point, the
// same cells for a terminal (aligned columns) and for Markdown.
#include <algorithm>

#include <fmt/format.h>

#include "bench.hpp"

namespace csd::bench {

namespace {

using Row = std::vector<std::string>;

const Row kHeader{"design",        "overhead µs/conn",   "server CPU µs/conn",
                  "conn/s",        "× C iterative",      "p50 µs",
                  "p99 µs",        "system CPU µs/conn", "CPU busy",
                  "wake-ups/conn", "per-worker counts",  "valid runs"};
constexpr std::size_t kLeftAligned[] = {0, 10};  // columns of text; the others are numbers

std::string number(const json& value, int decimals, const char* format = "{:.{}f}") {
  return value.is_number() ? fmt::format(fmt::runtime(format), value.get<double>(), decimals) : "-";
}

// "1.02 (0.91–1.10)": the per-repetition ratio's median and range.
std::string ratio_text(const json& ratio) {
  if (ratio.is_null())
    return "-";
  if (ratio["min"] == ratio["max"])  // one repetition, or the baseline's own
    return number(ratio["median"], 2);
  return fmt::format("{} ({}–{})", number(ratio["median"], 2), number(ratio["min"], 2),
                     number(ratio["max"], 2));
}

json percent(const json& share) {
  return share.is_number() ? json(100 * share.get<double>()) : share;
}

bool left_aligned(std::size_t column) {
  return std::ranges::find(kLeftAligned, column) != std::end(kLeftAligned);
}

Row cells(const json& row) {
  const json& median = row["median"];
  const auto figure = [&](const char* name, int decimals) {
    return number(median.value(name, json(nullptr)), decimals);
  };
  const json& distribution = row["distribution"];
  return {
      row["design"].get<std::string>() + (row["baseline"].get<bool>() ? " (baseline)" : ""),
      number(row["overhead_us_per_conn"], 1, "{:+.{}f}"),
      figure("server_cpu_us_per_conn", 1),
      figure("conns_per_s", 0),
      ratio_text(row["vs_baseline"]),
      figure("latency_p50_us", 0),
      figure("latency_p99_us", 0),
      figure("system_cpu_us_per_conn", 1),
      number(percent(median.value("cpu_busy", json(nullptr))), 0, "{:.{}f}%"),
      (row["wakeups_lower_bound"].get<bool>() ? "≥" : "") + figure("wakeups_per_conn", 2),
      distribution.is_null()
          ? "-"
          : fmt::format("{}", fmt::join(distribution["counts"].get<std::vector<int64_t>>(), " ")),
      fmt::format("{}/{}", row["valid_runs"].get<int>(), row["runs"].get<int>())};
}

const std::string kLegend = fmt::format(
    "overhead: server CPU per connection minus {0}'s (UNP Figure 30.1's \"process control CPU "
    "time\").\n× C iterative: conn/s over {0}'s in the same repetition, median (range).\n",
    kBaselineName);

// "5 clients × 400 conns × 4000 bytes", "1 client × 200 conns × 1MiB".
std::string point_title(const json& point) {
  const int clients = point["clients"];
  const std::string size = bytes_text(point["bytes"]);
  return fmt::format("{} client{} × {} conns × {}{}", clients, clients == 1 ? "" : "s",
                     point["conns"].get<int>(), size, size.ends_with("MiB") ? "" : " bytes");
}

// Calls `table(title, rows)` per load point, with the summary rows it has.
template <typename Table>
void for_each_point(const json& document, Table table) {
  const json& points = document["points"];
  for (std::size_t p = 0; p < points.size(); ++p) {
    std::vector<const json*> rows;
    for (const json& row : document["summary"]) {
      if (row["point"] == p)
        rows.push_back(&row);
    }
    if (!rows.empty())
      table(point_title(points[p]), rows);
  }
}

std::string notes(const std::vector<const json*>& rows, const char* bullet) {
  std::string out;
  for (const json* row : rows) {
    for (const auto& note : (*row)["notes"])
      out += fmt::format("{}{}: {}\n", bullet, (*row)["design"].get<std::string>(),
                         note.get<std::string>());
  }
  return out;
}

// Columns wide enough for their longest cell, counted in characters, not bytes (µ, ×, ≥).
std::string aligned(const std::vector<Row>& rows) {
  const auto width = [](const std::string& s) {
    return std::ranges::count_if(
        s, [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
  };
  std::vector<std::ptrdiff_t> widths(kHeader.size(), 0);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], width(row[c]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::string pad(static_cast<std::size_t>(widths[c] - width(row[c])), ' ');
      line += (c == 0 ? "" : "  ") + (left_aligned(c) ? row[c] + pad : pad + row[c]);
    }
    out += line.substr(0, line.find_last_not_of(' ') + 1) + "\n";
  }
  return out;
}

std::string markdown_row(const Row& row) { return fmt::format("| {} |\n", fmt::join(row, " | ")); }

std::string markdown_table(const std::vector<const json*>& rows) {
  Row alignment;
  for (std::size_t c = 0; c < kHeader.size(); ++c)
    alignment.emplace_back(left_aligned(c) ? "---" : "--:");
  std::string out = markdown_row(kHeader) + fmt::format("|{}|\n", fmt::join(alignment, "|"));
  for (const json* row : rows) out += markdown_row(cells(*row));
  return out;
}

}  // namespace

std::string text_report(const json& document) {
  std::string out = kLegend;
  for_each_point(document, [&](const std::string& title, const std::vector<const json*>& rows) {
    std::vector<Row> table{kHeader};
    for (const json* row : rows) table.push_back(cells(*row));
    out += fmt::format("\n{}\n{}{}", title, aligned(table), notes(rows, "  "));
  });
  return out;
}

std::string markdown_report(const json& document) {
  const json& m = document["machine"];
  const json& o = document["options"];
  std::string out = "# csd-bench: UNP Figure 30.1 on this machine\n\n| | |\n|---|---|\n";
  const auto fact = [&](const char* key, const std::string& value) {
    out += markdown_row({key, value});
  };
  fact("date", m["date"]);
  fact("kernel", m["kernel"]);
  fact("cores", fmt::format("{}", m["cores"].get<int>()));
  fact("load average before", m["loadavg"]);
  fact("ip_local_port_range", m["ip_local_port_range"]);
  fact("tcp_tw_reuse", m["tcp_tw_reuse"]);
  fact("somaxconn", m["somaxconn"]);
  fact("compiler", m["compiler"]);
  fact("build type", m["build_type"]);
  fact("command", fmt::format("`{}`", fmt::join(document["command"], " ")));
  fact("repetitions", fmt::format("{}, each in its own shuffled order (--seed {})",
                                  o["reps"].get<int>(), o["seed"].get<uint32_t>()));
  fact("load", fmt::format("size protocol from csd-bench's client threads, bound across {} "
                           "loopback addresses",
                           o["sources"].get<int>()));
  if (document["interrupted"].get<bool>())
    fact("interrupted", fmt::format("after {} runs", document["runs"].size()));
  out += "\n" + kLegend;
  for (const auto& skipped : document["skipped"])
    out += fmt::format("\nSkipped: {}\n", skipped.get<std::string>());
  for_each_point(document, [&](const std::string& title, const std::vector<const json*>& rows) {
    out += fmt::format("\n## {}\n\n{}", title, markdown_table(rows));
    const std::string listed = notes(rows, "- ");
    if (!listed.empty())
      out += "\nNotes:\n\n" + listed;
  });
  return out;
}

}  // namespace csd::bench
