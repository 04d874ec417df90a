// An observation in words (one evidence line per step) and as JSON.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "calls.hpp"
#include "classify.hpp"

namespace csd::observe {

namespace {

std::string counted(int n, std::string_view one, std::string_view many) {
  return n == 1 ? fmt::format("{} {}", n, one) : fmt::format("{} {}", n, many);
}

// "on the listener and 2 connections", "on a socket", "" when nothing is named.
std::string waits_on_words(const Waiting& on) {
  std::vector<std::string> parts;
  if (on.listeners.size() == 1)
    parts.emplace_back("the listener");
  else if (on.listeners.size() > 1)
    parts.push_back(fmt::format("{} listeners", on.listeners.size()));
  if (!on.connections.empty()) {
    parts.push_back(on.connections.size() == 1
                        ? "a connection"
                        : fmt::format("{} connections", on.connections.size()));
  }
  if (on.other_sockets > 0)
    parts.push_back(on.other_sockets == 1 ? "another socket"
                                          : fmt::format("{} other sockets", on.other_sockets));
  if (on.other > 0)
    parts.push_back(on.other == 1 ? "a pipe or file" : fmt::format("{} pipes or files", on.other));
  if (parts.empty())
    return "";
  std::string words = " on " + parts.front();
  for (std::size_t k = 1; k < parts.size(); ++k)
    words += (k + 1 == parts.size() ? " and " : ", ") + parts[k];
  return words;
}

std::string task_words(const TaskView& t) {
  if (t.running)
    return "running";
  if (t.call < 0)
    return "outside any call";
  return call_name(t.call) + "()" + waits_on_words(t.on);
}

}  // namespace

std::string describe(const Snapshot& shot) {
  std::map<std::string, int> groups;  // "accept() on the listener" -> how many tasks
  for (const auto& p : shot.processes) {
    for (const auto& t : p.tasks) ++groups[task_words(t)];
  }
  std::string line =
      fmt::format("{}: {}, {}", shot.step,
                  counted(static_cast<int>(shot.processes.size()), "process", "processes"),
                  counted(static_cast<int>(shot.threads()), "thread", "threads"));
  const char* sep = "; ";
  for (const auto& [words, n] : groups) {
    line += fmt::format("{}{} in {}", sep, n, words);
    sep = ", ";
  }
  if (!shot.listener_holders.empty()) {
    line += fmt::format("; {} on the port", counted(static_cast<int>(shot.listener_holders.size()),
                                                    "listening socket", "listening sockets"));
  }
  if (!shot.holders.empty()) {
    int accepted = 0;
    std::vector<pid_t> holders;
    for (const auto& h : shot.holders) {
      accepted += h.empty() ? 0 : 1;
      for (const pid_t pid : h) {
        if (std::ranges::find(holders, pid) == holders.end())
          holders.push_back(pid);
      }
    }
    line += fmt::format("; {} accepted, held by {}", accepted,
                        counted(static_cast<int>(holders.size()), "process", "processes"));
  }
  if (shot.queued > 0)
    line += fmt::format("; {} in the accept queue", shot.queued);
  if (!shot.settled)
    line += " (did not stand still before the deadline)";
  return line;
}

nlohmann::json to_json(const Facts& f) {
  return {{"processes", f.processes},
          {"threads", f.threads},
          {"listening_sockets", f.listening_sockets},
          {"own_listeners", f.own_listeners},
          {"accepted", f.accepted},
          {"queued", f.queued},
          {"in_multiplexer", f.in_multiplexer},
          {"multiplexer", f.multiplexer},
          {"on_new_process", f.on_new_process},
          {"on_new_thread", f.on_new_thread},
          {"listener_waiters", f.listener_waiters},
          {"listener_waiter_processes", f.listener_waiter_processes},
          {"listener_call", f.listener_call},
          {"lock_waiters", f.lock_waiters},
          {"lock_waiter_processes", f.lock_waiter_processes},
          {"lock_call", f.lock_call},
          {"socket_readers", f.socket_readers},
          {"socket_call", f.socket_call},
          {"root_call", f.root_call},
          {"root_waits_on_listener", f.root_waits_on_listener},
          {"first_served_by", to_string(f.first_served_by)},
          {"settled", f.settled}};
}

nlohmann::json to_json(const Snapshot& shot) {
  nlohmann::json processes = nlohmann::json::array();
  for (const auto& p : shot.processes) {
    nlohmann::json tasks = nlohmann::json::array();
    for (const auto& t : p.tasks) {
      tasks.push_back({{"tid", t.tid},
                       {"call", t.running    ? "running"
                                : t.call < 0 ? ""
                                             : call_name(t.call)},
                       {"listeners", t.on.listeners},
                       {"connections", t.on.connections},
                       {"other_sockets", t.on.other_sockets},
                       {"other", t.on.other}});
    }
    processes.push_back(
        {{"pid", p.pid}, {"ppid", p.ppid}, {"listeners", p.listeners}, {"tasks", tasks}});
  }
  return {{"step", shot.step},
          {"processes", processes},
          {"connection_holders", shot.holders},
          {"queued", shot.queued},
          {"listener_holders", shot.listener_holders},
          {"settled", shot.settled},
          {"words", describe(shot)}};
}

}  // namespace csd::observe
