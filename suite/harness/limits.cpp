#include "limits.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

namespace csd::harness {

namespace {

ServerLimits g_run_limits;

template <typename T>
std::optional<T> tighter(const std::optional<T>& a, const std::optional<T>& b) {
  if (a && b)
    return std::min(*a, *b);
  return a ? a : b;
}

}  // namespace

ServerLimits ServerLimits::tightest(const ServerLimits& other) const {
  return {.processes = tighter(processes, other.processes),
          .memory = tighter(memory, other.memory),
          .file_size = tighter(file_size, other.file_size),
          .descriptors = tighter(descriptors, other.descriptors)};
}

std::vector<std::string> ServerLimits::guard_options() const {
  std::vector<std::string> options;
  if (descriptors)
    options.insert(options.end(), {"--nofile", std::to_string(*descriptors)});
  if (processes)
    options.insert(options.end(), {"--max-processes", std::to_string(*processes)});
  if (memory)
    options.insert(options.end(), {"--max-memory", std::to_string(*memory)});
  if (file_size)
    options.insert(options.end(), {"--max-file-size", std::to_string(*file_size)});
  return options;
}

bool ServerLimits::set_from_flag(std::string_view flag, std::string_view value) {
  if (flag == "--max-processes") {
    int count = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), count);
    if (error != std::errc{} || end != value.data() + value.size() || count < 1)
      return false;
    processes = count;
    return true;
  }
  if (flag != "--max-memory" && flag != "--max-file-size")
    return false;
  const auto bytes = parse_size(value);
  if (!bytes)
    return false;
  (flag == "--max-memory" ? memory : file_size) = bytes;
  return true;
}

std::vector<std::string> ServerLimits::suite_flags() const {
  std::vector<std::string> flags;
  if (processes)
    flags.push_back(fmt::format("--max-processes={}", *processes));
  if (memory)
    flags.push_back(fmt::format("--max-memory={}", *memory));
  if (file_size)
    flags.push_back(fmt::format("--max-file-size={}", *file_size));
  return flags;
}

std::optional<uint64_t> parse_size(std::string_view text) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || value == 0)
    return std::nullopt;
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  if (unit.ends_with("iB"))
    unit.remove_suffix(2);
  else if (unit.ends_with("B"))
    unit.remove_suffix(1);
  constexpr std::string_view kUnits = "KMGT";
  int shift = 0;
  if (unit.size() == 1 && kUnits.find(unit[0]) != std::string_view::npos)
    shift = 10 * (static_cast<int>(kUnits.find(unit[0])) + 1);
  else if (!unit.empty())
    return std::nullopt;
  if (shift > 0 && value > (UINT64_MAX >> shift))
    return std::nullopt;
  return value << shift;
}

ServerLimits limits_from_json(const nlohmann::json& given) {
  if (!given.is_object())
    throw BadLimits("limits", R"(must be an object: {"processes": 64, "memory": "512M", )"
                              R"("file_size": "16M"})");
  ServerLimits limits;
  for (const auto& [key, value] : given.items()) {
    const std::string field = "limits." + key;
    if (key == "processes") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 1 << 22)
        throw BadLimits(field, fmt::format("must be a whole number of processes, 1 or more, not {}",
                                           value.dump()));
      limits.processes = static_cast<int>(value.get<int64_t>());
    } else if (key == "memory" || key == "file_size") {
      const auto bytes = value.is_number_unsigned() ? std::optional(value.get<uint64_t>())
                         : value.is_string()        ? parse_size(value.get<std::string>())
                                                    : std::nullopt;
      if (!bytes || *bytes == 0)
        throw BadLimits(field, fmt::format("must be a size: bytes, or with K, M, G (\"512M\"), "
                                           "not {}",
                                           value.dump()));
      (key == "memory" ? limits.memory : limits.file_size) = *bytes;
    } else {
      throw BadLimits(field,
                      "unknown limit (known: processes, memory, file_size; descriptors "
                      "are a manifest's \"nofile\")");
    }
  }
  return limits;
}

std::string size_text(uint64_t bytes) {
  constexpr std::string_view kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.3g} {}", value, kUnits[unit]);
}

void set_run_limits(const ServerLimits& limits) { g_run_limits = limits; }

const ServerLimits& run_limits() { return g_run_limits; }

std::optional<std::string> find_limit_stop(std::string_view output) {
  const auto at = output.find(kGuardLimitLine);
  if (at == std::string_view::npos)
    return std::nullopt;
  const std::string_view rest = output.substr(at + kGuardLimitLine.size());
  return std::string(rest.substr(0, rest.find('\n')));
}

}  // namespace csd::harness
