// One run: a freshly started server under one load, and what is measured
// around the load: the server tree's CPU (its processes' CPU clocks) and
// context switches (/proc/PID), all CPUs' time and TCP's counters
// (system-wide), and the tables the server prints when it stops.
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <map>
#include <memory>
#include <regex>

#include <fmt/format.h>

#include "bench.hpp"
#include "load.hpp"
#include "procfs.hpp"
#include "server_process.hpp"
#include "stats.hpp"
#include "wait.hpp"

namespace csd::bench {

using namespace std::chrono_literals;

namespace {

constexpr auto kPoolReadyTimeout = 5s;
constexpr auto kSettleTimeout = 3s;
constexpr auto kStopGrace = 3s;

// ---- the server tree ----------------------------------------------------------------

struct Process {
  harness::ProcInfo info;  // clock ticks of its reaped children (cutime, cstime), threads
  uint64_t cpu_ns = 0;     // all its threads', ended ones included, exact
};

// The tree at one moment: each process's CPU and each task's context switches.
struct TreeSnapshot {
  std::map<pid_t, Process> processes;
  std::map<pid_t, uint64_t> switches;  // by task id: voluntary + involuntary
  int threads = 0;
};

TreeSnapshot snapshot(const harness::ServerProcess& server) {
  TreeSnapshot s;
  for (const pid_t pid : server.tree()) {
    auto info = harness::read_proc(pid);
    const auto cpu_ns = harness::process_cpu_ns(pid);
    if (!info || !cpu_ns)
      continue;  // ended meanwhile
    s.threads += info->threads;
    s.processes[pid] = {.info = *std::move(info), .cpu_ns = *cpu_ns};
    for (const auto& task : harness::read_tasks(pid)) s.switches[task.tid] = task.switches();
  }
  return s;
}

// What a counter of a process or task grew by during the load: all of it
// if the id is new (or reused: the counter went down).
template <typename Map, typename Counter>
uint64_t growth(const Map& before, const typename Map::value_type& now, Counter counter) {
  const uint64_t value = counter(now.second);
  const auto was = before.find(now.first);
  if (was == before.end() || counter(was->second) > value)
    return value;
  return value - counter(was->second);
}

// CPU and context switches of the whole tree during the load. A process's
// reaped children (a fork-per-client server's) count too, in clock ticks:
// their exact time ended with them.
json server_figures(const TreeSnapshot& before, const TreeSnapshot& after) {
  const double ns_per_tick = 1e9 / harness::clock_ticks_per_second();
  uint64_t cpu_ns = 0;
  uint64_t children_ns = 0;
  for (const auto& process : after.processes) {
    cpu_ns += growth(before.processes, process, [](const Process& p) { return p.cpu_ns; });
    children_ns += static_cast<uint64_t>(
        ns_per_tick * static_cast<double>(growth(before.processes, process, [](const Process& p) {
          return p.info.cutime_ticks + p.info.cstime_ticks;
        })));
  }
  // Tasks that ended took their switch counts along: then a lower bound.
  uint64_t switches = 0;
  for (const auto& task : after.switches)
    switches += growth(before.switches, task, [](uint64_t count) { return count; });
  const bool tasks_gone = std::ranges::any_of(
      before.switches, [&](const auto& task) { return !after.switches.contains(task.first); });
  return {{"cpu_ns", cpu_ns + children_ns},
          {"reaped_children_cpu_ns", children_ns},
          {"wakeups", switches},
          {"wakeups_lower_bound", tasks_gone}};
}

// Sum of every "accept() returned EAGAIN K times" line (one per worker, or one).
json accept_eagain(const std::string& output) {
  static const std::regex line(R"(accept\(\) returned EAGAIN (\d+) times?)");
  std::optional<uint64_t> total;
  for (auto it = std::sregex_iterator(output.begin(), output.end(), line);
       it != std::sregex_iterator(); ++it) {
    total = total.value_or(0) + std::stoull((*it)[1].str());
  }
  return total ? json(*total) : json(nullptr);  // null: the server does not say
}

// ---- the machine --------------------------------------------------------------------

struct SystemSample {
  harness::CpuTicks cpu;
  std::optional<uint64_t> listen_overflows;
  std::chrono::microseconds own_cpu{0};  // csd-bench's: the client threads
};

SystemSample sample_system() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto us = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  return {.cpu = harness::read_cpu_ticks().value_or(harness::CpuTicks{}),
          .listen_overflows = harness::read_netstat_counter("TcpExt", "ListenOverflows"),
          .own_cpu = us(usage.ru_utime) + us(usage.ru_stime)};
}

// ---- the load -----------------------------------------------------------------------

// Connections that failed for want of a local port or 4-tuple: connect()
// or bind() with EADDRNOTAVAIL or EADDRINUSE.
bool failed_for_ports(const client::LoadReport& report) {
  return std::ranges::any_of(report.first_failures, [](const std::string& failure) {
    return failure.find(std::strerror(EADDRNOTAVAIL)) != std::string::npos ||
           failure.find(std::strerror(EADDRINUSE)) != std::string::npos;
  });
}

std::string failure_summary(const client::LoadReport& report) {
  std::vector<std::string> how;
  for (std::size_t i = 1; i < client::kOutcomeCount; ++i) {
    if (report.outcomes[i] > 0)
      how.push_back(fmt::format("{} {}", report.outcomes[i],
                                client::to_string(static_cast<client::Outcome>(i))));
  }
  return fmt::format("{} of {} connections failed ({}){}", report.failures(), report.connections,
                     fmt::join(how, ", "),
                     report.first_failures.empty() ? "" : "; first: " + report.first_failures[0]);
}

client::LoadOptions load_options(const harness::ServerProcess& server, const LoadPoint& point,
                                 const MeasureOptions& options) {
  client::LoadOptions load;
  load.target = {.host = server.host(), .port = server.port()};
  load.clients = point.clients;
  load.conns = point.conns;
  load.fetch.protocol = client::Protocol::size;
  load.fetch.bytes = point.bytes;
  load.fetch.timeout = options.timeout;
  load.source_addresses = options.sources;
  return load;
}

// Whether the run is valid, and the notes on ports that explain a failure.
void judge(json& run, const client::LoadReport& load, const MeasureOptions& options) {
  run["valid"] = load.all_ok();
  if (!load.all_ok())
    run["invalid_reason"] = load.connections == 0 ? "no connections made" : failure_summary(load);
  const uint64_t tuples = static_cast<uint64_t>(options.sources) * options.port_count;
  run["port_limited"] = failed_for_ports(load);
  if (failed_for_ports(load) || load.connections > tuples / 2) {
    run["notes"].push_back(fmt::format(
        "{} connections to one server port from {} source addresses x {} ports: TIME_WAIT may "
        "limit this run; raise --sources",
        load.connections, options.sources, options.port_count));
  }
}

// value / count, 0 for nothing counted (a run that made no connection).
double per(double value, uint64_t count) {
  return count == 0 ? 0.0 : value / static_cast<double>(count);
}

}  // namespace

json measure_run(const Design& design, const LoadPoint& point, const MeasureOptions& options) {
  json run{{"valid", false}, {"started", false}, {"notes", json::array()}};
  std::unique_ptr<harness::ServerProcess> server;
  try {
    server = harness::ServerProcess::start(design.manifest);
  } catch (const std::exception& e) {
    run["invalid_reason"] = fmt::format("the server did not start: {}", e.what());
    return run;
  }
  run["started"] = true;
  if (!server->wait_for_full_pool(kPoolReadyTimeout))
    run["notes"].push_back("the pool was not complete 5 s after start");

  const TreeSnapshot before = snapshot(*server);
  const SystemSample system_before = sample_system();
  client::LoadReport load;
  try {
    load = client::run_load(load_options(*server, point, options));
  } catch (const std::exception& e) {
    run["invalid_reason"] = fmt::format("the load did not run: {}", e.what());
    return run;
  }
  const SystemSample system_after = sample_system();
  // Per-client children and threads finish exiting (and their parent reaps
  // them, adding their CPU to its own) before the tree is read again.
  const bool settled = harness::wait_until(
      [&] {
        const TreeSnapshot now = snapshot(*server);
        return now.processes.size() <= before.processes.size() && now.threads <= before.threads;
      },
      kSettleTimeout);
  if (!settled)
    run["notes"].push_back("the server tree was not back to its idle shape when measured");
  json tree = server_figures(before, snapshot(*server));
  if (design.manifest.traits.worker_per_client())
    tree["wakeups_lower_bound"] = true;  // per-client tasks end with their counts

  const harness::StopReport stop = server->stop(SIGTERM, kStopGrace);
  if (!stop.killed.empty())
    run["notes"].push_back(fmt::format("had to SIGKILL at stop: {}", fmt::join(stop.killed, ", ")));
  const auto worker_counts = harness::parse_seed_table(stop.output);
  tree["accept_eagain"] = accept_eagain(stop.output);
  tree["worker_counts"] = worker_counts;
  tree["settled"] = settled;
  tree["stopped_cleanly"] = stop.exited_in_time && stop.killed.empty();

  const uint64_t busy = system_after.cpu.busy - system_before.cpu.busy;
  const uint64_t total = system_after.cpu.total - system_before.cpu.total;
  const uint64_t conns = load.connections;
  const double us_per_tick = 1e6 / harness::clock_ticks_per_second();
  const auto us = [](std::chrono::nanoseconds d) {
    return std::chrono::duration<double, std::micro>(d).count();
  };
  run["figures"] = {
      {"conns_per_s", load.connections_per_second()},
      {"server_cpu_us_per_conn", per(tree["cpu_ns"].get<double>() / 1e3, conns)},
      {"system_cpu_us_per_conn", per(static_cast<double>(busy) * us_per_tick, conns)},
      {"cpu_busy", per(static_cast<double>(busy), total)},
      {"wakeups_per_conn", per(tree["wakeups"].get<double>(), conns)},
      {"accept_eagain_per_conn", tree["accept_eagain"].is_null()
                                     ? json(nullptr)
                                     : json(per(tree["accept_eagain"].get<double>(), conns))},
      {"client_cpu_us_per_conn",
       per(static_cast<double>((system_after.own_cpu - system_before.own_cpu).count()), conns)},
      {"latency_p50_us", us(load.latency_percentile(0.50))},
      {"latency_p99_us", us(load.latency_percentile(0.99))}};
  run["server"] = std::move(tree);
  run["system"] = {{"cpu_busy_ticks", busy},
                   {"cpu_total_ticks", total},
                   {"listen_overflows", system_after.listen_overflows.value_or(0) -
                                            system_before.listen_overflows.value_or(0)},
                   {"time_wait", harness::time_wait_sockets().value_or(0)}};
  run["load"] = load;
  judge(run, load, options);
  return run;
}

}  // namespace csd::bench
