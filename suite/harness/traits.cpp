#include "traits.hpp"

#include <array>
#include <ostream>
#include <stdexcept>
#include <string>

namespace csd::harness {

namespace {

struct ModelTraits {
  std::string_view model;
  Traits traits;
};

using enum Workers;
constexpr bool yes = true;
constexpr bool no = false;

// The one table. Columns: who serves, one client at a time, parent accepts,
// a listener per worker.
constexpr std::array kModelTraits{
    ModelTraits{"iterative", {none, yes, no, no}},
    ModelTraits{"fork", {process_per_client, no, yes, no}},
    ModelTraits{"select", {none, no, no, no}},
    ModelTraits{"poll", {none, no, no, no}},
    ModelTraits{"epoll", {none, no, no, no}},
    ModelTraits{"prefork", {process_pool, no, no, no}},
    ModelTraits{"prefork-lock", {process_pool, no, no, no}},
    ModelTraits{"prefork-fdpass", {process_pool, no, yes, no}},
    ModelTraits{"thread", {thread_per_client, no, yes, no}},
    ModelTraits{"prethreaded", {thread_pool, no, no, no}},
    ModelTraits{"prethreaded-main", {thread_pool, no, yes, no}},
    ModelTraits{"reuseport", {process_pool, no, no, yes}},
    ModelTraits{"other", {}},  // no traits claimed: only the checks every server must pass
};

}  // namespace

std::string_view to_string(Workers w) {
  switch (w) {
    case none:
      return "none";
    case process_per_client:
      return "process per client";
    case thread_per_client:
      return "thread per client";
    case process_pool:
      return "process pool";
    case thread_pool:
      return "thread pool";
  }
  return "?";
}

std::string_view to_string(AcceptWakeup w) {
  switch (w) {
    case AcceptWakeup::fifo:
      return "fifo";
    case AcceptWakeup::lifo:
      return "lifo";
    case AcceptWakeup::all:
      return "all";
    case AcceptWakeup::some:
      return "some";
    case AcceptWakeup::unspecified:
      break;
  }
  return "unspecified";
}

std::ostream& operator<<(std::ostream& out, Workers w) { return out << to_string(w); }
std::ostream& operator<<(std::ostream& out, AcceptWakeup w) { return out << to_string(w); }

std::vector<std::string> known_models() {
  std::vector<std::string> models;
  models.reserve(kModelTraits.size());
  for (const auto& entry : kModelTraits) models.emplace_back(entry.model);
  return models;
}

Traits traits_of_model(std::string_view model) {
  for (const auto& entry : kModelTraits) {
    if (entry.model == model)
      return entry.traits;
  }
  throw std::out_of_range("unknown model " + std::string(model));
}

}  // namespace csd::harness
