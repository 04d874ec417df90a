#include "system.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace csd::bench {

namespace {

std::string read_trimmed(const char* path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (char& c : text) {
    if (c == '\t')
      c = ' ';
  }
  return in || in.eof() ? text : std::string("unreadable");
}

std::string uname_text() {
  utsname u{};
  if (::uname(&u) != 0)
    return "unknown";
  return fmt::format("{} {} {} {}", u.sysname, u.release, u.version, u.machine);
}

int ports_in(const std::string& range) {
  std::istringstream in(range);
  int low = 0;
  int high = 0;
  if (!(in >> low >> high) || high < low)
    return 0;
  return high - low + 1;
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string build_type() {
  std::string type = CSD_BUILD_TYPE;
  if (type.empty())
    type = "(none)";
#ifdef NDEBUG
  type += ", NDEBUG";
#endif
  const std::string sanitize = CSD_SANITIZE_FLAGS;
  if (!sanitize.empty())
    type += ", sanitize=" + sanitize;
  return type;
}

// The values of the "Key:" row of a /proc/net/netstat-style file, by the
// header row's names: the header line and the value line share the prefix.
std::optional<uint64_t> netstat_value(const std::string& section, const std::string& name) {
  std::ifstream in("/proc/net/netstat");
  std::string header;
  std::string values;
  while (std::getline(in, header) && std::getline(in, values)) {
    if (!header.starts_with(section + ":"))
      continue;
    std::istringstream names(header.substr(section.size() + 1));
    std::istringstream numbers(values.substr(section.size() + 1));
    std::string key;
    uint64_t value = 0;
    while (names >> key && numbers >> value) {
      if (key == name)
        return value;
    }
  }
  return std::nullopt;
}

}  // namespace

MachineInfo describe_machine() {
  MachineInfo m;
  m.kernel = uname_text();
  m.cores = std::max(1U, std::thread::hardware_concurrency());
  m.port_range = read_trimmed("/proc/sys/net/ipv4/ip_local_port_range");
  m.port_count = ports_in(m.port_range);
  m.tcp_tw_reuse = read_trimmed("/proc/sys/net/ipv4/tcp_tw_reuse");
  m.somaxconn = read_trimmed("/proc/sys/net/core/somaxconn");
  m.compiler = CSD_COMPILER;
  m.build_type = build_type();
  m.date = utc_now();
  return m;
}

void to_json(nlohmann::json& j, const MachineInfo& m) {
  j = nlohmann::json{{"kernel", m.kernel},
                     {"cores", m.cores},
                     {"ip_local_port_range", m.port_range},
                     {"ports", m.port_count},
                     {"tcp_tw_reuse", m.tcp_tw_reuse},
                     {"somaxconn", m.somaxconn},
                     {"compiler", m.compiler},
                     {"build_type", m.build_type},
                     {"date", m.date}};
}

SystemCounters read_system_counters() {
  SystemCounters c;
  std::ifstream stat("/proc/stat");
  std::string label;
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  std::vector<uint64_t> fields(8, 0);
  if (stat >> label && label == "cpu") {
    for (auto& f : fields) stat >> f;
    const uint64_t idle = fields[3] + fields[4];
    for (const auto f : fields) c.cpu_total_ticks += f;
    c.cpu_busy_ticks = c.cpu_total_ticks - idle;
  }
  c.listen_overflows = netstat_value("TcpExt", "ListenOverflows");
  c.listen_drops = netstat_value("TcpExt", "ListenDrops");
  return c;
}

std::optional<uint64_t> time_wait_sockets() {
  std::ifstream in("/proc/net/sockstat");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("TCP:"))
      continue;
    std::istringstream words(line.substr(4));
    std::string key;
    uint64_t value = 0;
    while (words >> key >> value) {
      if (key == "tw")
        return value;
    }
  }
  return std::nullopt;
}

double ticks_per_second() {
  static const double ticks = [] {
    const long t = ::sysconf(_SC_CLK_TCK);
    return t > 0 ? static_cast<double>(t) : 100.0;
  }();
  return ticks;
}

}  // namespace csd::bench
