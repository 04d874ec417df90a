#include "applicability.hpp"

#include <gtest/gtest.h>

#include <string>

namespace csd::harness {
namespace {

Manifest implementation(std::string model, WireProtocol protocol, int workers = 0) {
  Manifest m;
  m.name = model;
  m.model = std::move(model);
  m.traits = traits_of_model(m.model);
  m.protocol = protocol;
  m.workers = workers;
  return m;
}

TEST(AppliesTo, NothingDeclaredAppliesToEveryImplementation) {
  const AppliesTo everywhere{};
  EXPECT_TRUE(applies(everywhere, implementation("iterative", WireProtocol::echo)));
  EXPECT_TRUE(applies(everywhere, implementation("prefork", WireProtocol::size, 4)));
  EXPECT_TRUE(applies(everywhere, implementation("other", WireProtocol::size)));
  EXPECT_EQ(describe(everywhere), "every implementation");
}

TEST(AppliesTo, ProtocolMustMatch) {
  const AppliesTo size_only{.protocol = WireProtocol::size};
  EXPECT_TRUE(applies(size_only, implementation("fork", WireProtocol::size)));
  EXPECT_FALSE(applies(size_only, implementation("fork", WireProtocol::echo)));
}

TEST(AppliesTo, WorkersMustBeOfOneOfTheKindsNamed) {
  const AppliesTo pools{.workers = kPools};
  EXPECT_TRUE(applies(pools, implementation("prefork", WireProtocol::size, 4)));
  EXPECT_TRUE(applies(pools, implementation("prethreaded-main", WireProtocol::size, 4)));
  EXPECT_TRUE(applies(pools, implementation("reuseport", WireProtocol::size, 4)));
  EXPECT_FALSE(applies(pools, implementation("fork", WireProtocol::size)));
  EXPECT_FALSE(applies(pools, implementation("epoll", WireProtocol::size)));
  // "other" claims no traits, so only checks for every design apply to it.
  EXPECT_FALSE(applies(pools, implementation("other", WireProtocol::size, 4)));

  const AppliesTo per_client{.workers = kWorkerPerClient};
  EXPECT_TRUE(applies(per_client, implementation("fork", WireProtocol::echo)));
  EXPECT_TRUE(applies(per_client, implementation("thread", WireProtocol::size)));
  EXPECT_FALSE(applies(per_client, implementation("prefork", WireProtocol::size, 4)));
}

TEST(AppliesTo, MinWorkersReadsTheManifestsCount) {
  const AppliesTo needs_a_count{.workers = kProcessPools, .min_workers = 1};
  EXPECT_TRUE(applies(needs_a_count, implementation("prefork", WireProtocol::size, 1)));
  EXPECT_FALSE(applies(needs_a_count, implementation("prefork", WireProtocol::size, 0)));

  const AppliesTo two_or_more{.workers = kPools, .min_workers = 2};
  EXPECT_TRUE(applies(two_or_more, implementation("prethreaded", WireProtocol::size, 2)));
  EXPECT_FALSE(applies(two_or_more, implementation("prethreaded", WireProtocol::size, 1)));
}

TEST(AppliesTo, DeclaredModelLeavesOutOther) {
  const AppliesTo declared{.declared_model = true};
  EXPECT_TRUE(applies(declared, implementation("iterative", WireProtocol::size)));
  EXPECT_TRUE(applies(declared, implementation("prefork", WireProtocol::echo, 4)));
  EXPECT_FALSE(applies(declared, implementation("other", WireProtocol::size)));
  EXPECT_EQ(describe(declared), "a declared model (not other), or auto");
}

TEST(AppliesTo, DescribesEveryCondition) {
  EXPECT_EQ(describe({.protocol = WireProtocol::size, .workers = kPools, .min_workers = 2}),
            "size protocol; process pool or thread pool; at least 2 workers");
  EXPECT_EQ(describe({.workers = kProcessPools, .min_workers = 1}),
            "process pool; at least 1 worker");
  EXPECT_EQ(describe({.protocol = WireProtocol::echo}), "echo protocol");
}

TEST(WorkerKinds, AnyHoldsEveryKind) {
  for (const Workers kind : kEveryWorkers) EXPECT_TRUE(kAnyWorkers.contains(kind));
  EXPECT_TRUE(kThreadPools.contains(Workers::thread_pool));
  EXPECT_FALSE(kThreadPools.contains(Workers::process_pool));
}

}  // namespace
}  // namespace csd::harness
