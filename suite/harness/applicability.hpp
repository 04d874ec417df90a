// Where a check applies, as data written next to the check. In kselftest a
// FIXTURE_VARIANT lists the variants a fixture runs over; here the list is
// turned round: each check names the traits (traits.hpp), the protocol and
// the worker count an implementation must have for the check to mean
// anything, and csd-suite registers a (check, implementation) pair only where
// applies() holds. A check that cannot apply to a design is therefore not a
// test of that implementation at all: it is neither run nor skipped.
#pragma once

#include <initializer_list>
#include <optional>
#include <ranges>
#include <string>

#include "manifest.hpp"
#include "traits.hpp"

namespace csd::harness {

namespace detail {
constexpr unsigned worker_bit(Workers kind) { return 1U << static_cast<unsigned>(kind); }
template <std::ranges::input_range Kinds>
constexpr unsigned worker_bits(const Kinds& kinds) {
  unsigned bits = 0;
  for (const Workers kind : kinds) bits |= worker_bit(kind);
  return bits;
}
}  // namespace detail

// A set of Traits::workers values: who may serve the connections.
class WorkerKinds {
 public:
  constexpr WorkerKinds(std::initializer_list<Workers> kinds) : bits_(detail::worker_bits(kinds)) {}
  template <std::ranges::input_range Kinds>
  constexpr explicit WorkerKinds(const Kinds& kinds) : bits_(detail::worker_bits(kinds)) {}

  [[nodiscard]] constexpr bool contains(Workers kind) const {
    return (bits_ & detail::worker_bit(kind)) != 0;
  }
  [[nodiscard]] constexpr bool operator==(const WorkerKinds&) const = default;

 private:
  unsigned bits_;
};

inline constexpr WorkerKinds kAnyWorkers{kEveryWorkers};
inline constexpr WorkerKinds kPools{Workers::process_pool, Workers::thread_pool};
inline constexpr WorkerKinds kProcessPools{Workers::process_pool};
inline constexpr WorkerKinds kThreadPools{Workers::thread_pool};
inline constexpr WorkerKinds kWorkerPerClient{Workers::process_per_client,
                                              Workers::thread_per_client};

// Written with designated initializers, every field optional:
//   {.protocol = WireProtocol::size, .workers = kProcessPools, .min_workers = 1}
struct AppliesTo {
  std::optional<WireProtocol> protocol = std::nullopt;  // unset: either protocol
  WorkerKinds workers = kAnyWorkers;  // the design's Traits::workers is one of these
  // The manifest's `workers` is at least this (1: "needs a worker count",
  // 2: "a pool of at least two").
  int min_workers = 0;
  // The manifest names a design (any model but `other`, which claims none),
  // or leaves it to be observed ("auto").
  bool declared_model = false;
};

[[nodiscard]] bool applies(const AppliesTo& where, const Manifest& implementation);

// One line for people: "size protocol; process pool; at least 1 worker", or
// "every implementation".
[[nodiscard]] std::string describe(const AppliesTo& where);

}  // namespace csd::harness
