#include "measure.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "procfs.hpp"
#include "server_process.hpp"
#include "stats.hpp"
#include "system.hpp"
#include "wait.hpp"

namespace csd::bench {

using namespace std::chrono_literals;

namespace {

constexpr auto kPoolReadyTimeout = 5s;
constexpr auto kSettleTimeout = 3s;
constexpr auto kStopGrace = 3000ms;

// ---- the server tree, from /proc ----------------------------------------------------

// One process: CPU in clock ticks from /proc/PID/stat (whole process, ended
// threads included), and of its reaped children (cutime, cstime).
struct ProcessSample {
  uint64_t user_ticks = 0;
  uint64_t sys_ticks = 0;
  uint64_t child_user_ticks = 0;
  uint64_t child_sys_ticks = 0;
  [[nodiscard]] uint64_t own_ticks() const { return user_ticks + sys_ticks; }
  [[nodiscard]] uint64_t child_ticks() const { return child_user_ticks + child_sys_ticks; }
};

// One task (thread): its context switches (/proc/PID/task/TID/status) and
// its run time in nanoseconds (/proc/PID/task/TID/schedstat, exact where
// the tick counts are 10 ms coarse).
struct TaskSample {
  pid_t process = 0;
  uint64_t switches = 0;  // voluntary + involuntary
  uint64_t runtime_ns = 0;
};

// The tree at one moment.
struct TreeSnapshot {
  std::map<pid_t, ProcessSample> processes;
  std::map<pid_t, TaskSample> tasks;  // by task id
  std::size_t threads = 0;
};

std::optional<uint64_t> task_switches(pid_t pid, pid_t tid) {
  std::ifstream in(fmt::format("/proc/{}/task/{}/status", pid, tid));
  if (!in)
    return std::nullopt;
  uint64_t total = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    uint64_t value = 0;
    if (!(words >> key >> value))
      continue;
    if (key == "voluntary_ctxt_switches:" || key == "nonvoluntary_ctxt_switches:")
      total += value;
  }
  return total;
}

uint64_t task_runtime_ns(pid_t pid, pid_t tid) {
  std::ifstream in(fmt::format("/proc/{}/task/{}/schedstat", pid, tid));
  uint64_t runtime = 0;
  in >> runtime;
  return in ? runtime : 0;
}

void add_tasks(pid_t pid, TreeSnapshot& s) {
  for (const pid_t tid : harness::thread_ids(pid)) {
    const auto switches = task_switches(pid, tid);
    if (!switches)
      continue;  // ended meanwhile
    s.tasks[tid] = {.process = pid, .switches = *switches, .runtime_ns = task_runtime_ns(pid, tid)};
  }
}

TreeSnapshot snapshot(const std::vector<pid_t>& tree) {
  TreeSnapshot s;
  for (const pid_t pid : tree) {
    const auto info = harness::read_proc(pid);
    if (!info)
      continue;
    s.processes[pid] = {.user_ticks = info->utime_ticks,
                        .sys_ticks = info->stime_ticks,
                        .child_user_ticks = info->cutime_ticks,
                        .child_sys_ticks = info->cstime_ticks};
    s.threads += static_cast<std::size_t>(std::max(info->threads, 0));
    add_tasks(pid, s);
  }
  return s;
}

uint64_t minus_or_zero(uint64_t after, uint64_t before) {
  return after > before ? after - before : 0;
}

// What a counter grew by: from its earlier value if it had one, else all of it.
template <typename Map, typename Field>
uint64_t growth(const Map& before, typename Map::key_type key, uint64_t now, Field field) {
  const auto was = before.find(key);
  if (was == before.end())
    return now;
  const uint64_t then = field(was->second);
  return then <= now ? now - then : now;  // smaller: the id was reused
}

// Context switches: tasks that existed before count from there, new tasks
// count whole, tasks that ended took their counts along (a lower bound then).
void add_switch_delta(const TreeSnapshot& before, const TreeSnapshot& after, ServerFigures& f) {
  for (const auto& [tid, task] : after.tasks) {
    f.wakeups +=
        growth(before.tasks, tid, task.switches, [](const TaskSample& t) { return t.switches; });
  }
  for (const auto& [tid, task] : before.tasks) {
    if (!after.tasks.contains(tid))
      f.wakeups_lower_bound = true;
  }
}

// CPU of the whole tree during the load. Per process: the exact run time of
// its threads (schedstat); but when its tick count grew by clearly more than
// that, threads ended meanwhile (thread per client) and the ticks, which
// include them, are used. Plus what its reaped children used (cutime and
// cstime: a fork-per-client server's children), in ticks.
void add_cpu_delta(const TreeSnapshot& before, const TreeSnapshot& after, ServerFigures& f) {
  const double ns_per_tick = 1e9 / ticks_per_second();
  const auto slack = static_cast<uint64_t>(3 * ns_per_tick);  // each tick field truncates
  std::map<pid_t, uint64_t> runtime_ns;
  for (const auto& [tid, task] : after.tasks) {
    runtime_ns[task.process] += growth(before.tasks, tid, task.runtime_ns,
                                       [](const TaskSample& t) { return t.runtime_ns; });
  }
  for (const auto& [pid, p] : after.processes) {
    const uint64_t user = growth(before.processes, pid, p.user_ticks,
                                 [](const ProcessSample& s) { return s.user_ticks; });
    const uint64_t sys = growth(before.processes, pid, p.sys_ticks,
                                [](const ProcessSample& s) { return s.sys_ticks; });
    const uint64_t child_user = growth(before.processes, pid, p.child_user_ticks,
                                       [](const ProcessSample& s) { return s.child_user_ticks; });
    const uint64_t child_sys = growth(before.processes, pid, p.child_sys_ticks,
                                      [](const ProcessSample& s) { return s.child_sys_ticks; });
    f.user_ticks += user + child_user;
    f.sys_ticks += sys + child_sys;
    const auto own_by_ticks = static_cast<uint64_t>(static_cast<double>(user + sys) * ns_per_tick);
    uint64_t own = runtime_ns[pid];
    if (own_by_ticks > own + slack) {
      own = own_by_ticks;
      f.cpu_from_ticks = true;
    }
    f.cpu_ns +=
        own + static_cast<uint64_t>(static_cast<double>(child_user + child_sys) * ns_per_tick);
    if (child_user + child_sys > 0)
      f.cpu_from_ticks = true;
  }
}

// ---- shapes -------------------------------------------------------------------------

// After the load: per-client children and threads finish their exit (and a
// parent reaps them, adding their CPU to its own) before the tree is read.
bool wait_until_idle_shape(const harness::ServerProcess& server, const TreeSnapshot& idle) {
  return harness::wait_until(
      [&] {
        const TreeSnapshot now = snapshot(server.tree());
        return now.processes.size() <= idle.processes.size() && now.threads <= idle.threads;
      },
      kSettleTimeout);
}

// ---- the server's own output --------------------------------------------------------

// Sum of every "accept() returned EAGAIN K times" line (one per worker, or one).
std::optional<uint64_t> parse_accept_eagain(const std::string& output) {
  static const std::regex line(R"(accept\(\) returned EAGAIN (\d+) times?)");
  std::optional<uint64_t> total;
  for (auto it = std::sregex_iterator(output.begin(), output.end(), line);
       it != std::sregex_iterator(); ++it) {
    total = total.value_or(0) + std::stoull((*it)[1].str());
  }
  return total;
}

// ---- the client's side --------------------------------------------------------------

std::chrono::nanoseconds own_cpu() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto to_ns = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  return to_ns(u.ru_utime) + to_ns(u.ru_stime);
}

// Connections that failed for want of a local port or 4-tuple: connect()
// or bind() with EADDRNOTAVAIL / EADDRINUSE.
bool failed_for_ports(const client::LoadReport& report) {
  const std::string no_address = std::strerror(EADDRNOTAVAIL);
  const std::string in_use = std::strerror(EADDRINUSE);
  return std::any_of(
      report.first_failures.begin(), report.first_failures.end(), [&](const std::string& f) {
        return f.find(no_address) != std::string::npos || f.find(in_use) != std::string::npos;
      });
}

std::string failure_summary(const client::LoadReport& report) {
  std::string how;
  for (std::size_t i = 1; i < client::kOutcomeCount; ++i) {
    if (report.outcomes[i] == 0)
      continue;
    how += fmt::format("{}{} {}", how.empty() ? "" : ", ", report.outcomes[i],
                       client::to_string(static_cast<client::Outcome>(i)));
  }
  std::string text =
      fmt::format("{} of {} connections failed ({})", report.failures(), report.connections, how);
  if (!report.first_failures.empty())
    text += "; first: " + report.first_failures.front();
  return text;
}

client::LoadOptions load_options(const harness::ServerProcess& server, const RunSpec& spec,
                                 const MeasureOptions& options) {
  client::LoadOptions load;
  load.target = {.host = server.host(), .port = server.port()};
  load.clients = spec.clients;
  load.conns = spec.conns;
  load.fetch.protocol = client::Protocol::size;
  load.fetch.bytes = spec.bytes;
  load.fetch.timeout = options.timeout;
  load.source_addresses = options.sources;
  return load;
}

// ---- one run ------------------------------------------------------------------------

struct LoadWindow {
  client::LoadReport report;
  SystemCounters before;
  SystemCounters after;
  std::chrono::nanoseconds client_cpu{0};
};

LoadWindow run_measured_load(const client::LoadOptions& load) {
  LoadWindow w;
  const auto cpu_before = own_cpu();
  w.before = read_system_counters();
  w.report = client::run_load(load);
  w.after = read_system_counters();
  w.client_cpu = own_cpu() - cpu_before;
  return w;
}

std::optional<uint64_t> delta(const std::optional<uint64_t>& after,
                              const std::optional<uint64_t>& before) {
  if (!after || !before)
    return std::nullopt;
  return minus_or_zero(*after, *before);
}

SystemFigures system_figures(const LoadWindow& w) {
  SystemFigures s;
  s.cpu_busy_ticks = minus_or_zero(w.after.cpu_busy_ticks, w.before.cpu_busy_ticks);
  s.cpu_total_ticks = minus_or_zero(w.after.cpu_total_ticks, w.before.cpu_total_ticks);
  s.listen_overflows = delta(w.after.listen_overflows, w.before.listen_overflows);
  s.listen_drops = delta(w.after.listen_drops, w.before.listen_drops);
  s.client_cpu = w.client_cpu;
  return s;
}

void judge(RunRecord& r, const MeasureOptions& options) {
  const auto& load = r.load;
  r.port_limited = failed_for_ports(load);
  r.valid = load.all_ok();
  if (!r.valid)
    r.invalid_reason = load.connections == 0 ? "no connections made" : failure_summary(load);
  if (r.port_limited) {
    r.notes.push_back(
        fmt::format("limited by ephemeral ports / TIME_WAIT: connections failed with EADDRNOTAVAIL "
                    "or EADDRINUSE ({} source "
                    "addresses x {} ports); raise --sources",
                    options.sources, options.port_count));
  }
  const auto capacity =
      static_cast<uint64_t>(options.sources) * static_cast<uint64_t>(options.port_count);
  if (load.connections > capacity / 2) {
    r.notes.push_back(
        fmt::format("{} connections to one server port use over half of the {} source 4-tuples ({} "
                    "addresses x {} ports): "
                    "TIME_WAIT may limit this run; raise --sources",
                    load.connections, capacity, options.sources, options.port_count));
  }
}

void stop_and_read_tables(harness::ServerProcess& server, RunRecord& r) {
  const harness::StopReport stop = server.stop(SIGTERM, kStopGrace);
  r.server.stopped_cleanly = stop.exited_in_time && stop.killed.empty();
  r.server.killed = stop.killed;
  if (!stop.killed.empty())
    r.notes.push_back(fmt::format("had to SIGKILL at stop: {}", fmt::join(stop.killed, ", ")));
  r.server.accept_eagain = parse_accept_eagain(stop.output);
  r.server.worker_counts = harness::parse_seed_table(stop.output);
}

}  // namespace

double RunRecord::server_cpu_us_per_conn() const {
  if (connections() == 0)
    return 0;
  return static_cast<double>(server.cpu_ns) / 1e3 / static_cast<double>(connections());
}

double RunRecord::system_busy_share() const {
  if (system.cpu_total_ticks == 0)
    return 0;
  return static_cast<double>(system.cpu_busy_ticks) / static_cast<double>(system.cpu_total_ticks);
}

double RunRecord::system_cpu_us_per_conn() const {
  if (connections() == 0)
    return 0;
  return static_cast<double>(system.cpu_busy_ticks) / ticks_per_second() * 1e6 /
         static_cast<double>(connections());
}

double RunRecord::wakeups_per_conn() const {
  if (connections() == 0)
    return 0;
  return static_cast<double>(server.wakeups) / static_cast<double>(connections());
}

std::optional<double> RunRecord::eagain_per_conn() const {
  if (!server.accept_eagain || connections() == 0)
    return std::nullopt;
  return static_cast<double>(*server.accept_eagain) / static_cast<double>(connections());
}

RunRecord measure_run(const Design& design, const RunSpec& spec, const MeasureOptions& options) {
  RunRecord r;
  r.spec = spec;
  r.design = design.name();
  r.model = design.manifest.model;
  std::unique_ptr<harness::ServerProcess> server;
  try {
    harness::LaunchOptions launch;
    launch.host = "127.0.0.1";
    server = harness::ServerProcess::start(design.manifest, launch);
  } catch (const std::exception& e) {
    r.invalid_reason = fmt::format("the server did not start: {}", e.what());
    return r;
  }
  r.started = true;
  if (!server->wait_for_full_pool(kPoolReadyTimeout)) {
    r.notes.push_back(fmt::format("the pool of {} was not complete within {} s of start",
                                  server->workers(),
                                  std::chrono::duration<double>(kPoolReadyTimeout).count()));
  }

  const TreeSnapshot before = snapshot(server->tree());
  LoadWindow window;
  try {
    window = run_measured_load(load_options(*server, spec, options));
  } catch (const std::exception& e) {
    r.invalid_reason = fmt::format("the load did not run: {}", e.what());
    return r;
  }
  r.server.settled = wait_until_idle_shape(*server, before);
  if (!r.server.settled)
    r.notes.push_back("the server tree was not back to its idle shape when measured");
  const TreeSnapshot after = snapshot(server->tree());
  r.system = system_figures(window);
  r.system.time_wait = time_wait_sockets();

  r.load = std::move(window.report);
  add_cpu_delta(before, after, r.server);
  add_switch_delta(before, after, r.server);
  if (design.manifest.traits.worker_per_client())
    r.server.wakeups_lower_bound = true;  // per-client tasks end with their counts

  stop_and_read_tables(*server, r);
  judge(r, options);
  return r;
}

}  // namespace csd::bench
