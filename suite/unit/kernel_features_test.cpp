// Verify behavior for the sequences: a /proc/PID/status text -> whether its
// CapEff holds a capability; CSD_PRETEND_MISSING's list -> the features it
// names and the names that are none; a design's traits -> the kernel
// features it needs; the probes on this machine -> an answer for each.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel_features.hpp"
#include "traits.hpp"

namespace csd::harness {
namespace {

constexpr int kCapNetRaw = 13;

TEST(KernelFeatures, CapEffOfRootHasCapNetRaw) {
  const std::string status =
      "Name:\tcsd-suite\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n"
      "CapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n";
  EXPECT_EQ(effective_capability(status, kCapNetRaw), true);
}

TEST(KernelFeatures, CapEffWithoutBit13LacksCapNetRaw) {
  // Docker's default set: CAP_NET_RAW (0x2000) dropped from a00425fb.
  EXPECT_EQ(effective_capability("CapEff:\ta80405fb\n", kCapNetRaw), false);
  EXPECT_EQ(effective_capability("CapEff:\ta80425fb\n", kCapNetRaw), true);
  EXPECT_EQ(effective_capability("CapEff:\t0000000000000000\n", kCapNetRaw), false);
}

TEST(KernelFeatures, NoReadableCapEffIsNoAnswer) {
  EXPECT_EQ(effective_capability("", kCapNetRaw), std::nullopt);
  EXPECT_EQ(effective_capability("CapPrm:\t000001ffffffffff\n", kCapNetRaw), std::nullopt);
  EXPECT_EQ(effective_capability("CapEff:\tzz\n", kCapNetRaw), std::nullopt);
  // Only a line that starts with the key: "XCapEff:" is another field.
  EXPECT_EQ(effective_capability("XCapEff:\tffff\n", kCapNetRaw), std::nullopt);
}

TEST(KernelFeatures, PretendMissingNamesFeaturesAnyCaseAndSpacing) {
  const auto pretend = parse_pretend_missing(" SO_REUSEPORT, epollexclusive ,,netns");
  EXPECT_EQ(pretend.features,
            (std::vector{KernelFeature::so_reuseport, KernelFeature::epoll_exclusive,
                         KernelFeature::network_namespaces}));
  EXPECT_TRUE(pretend.unknown.empty());
  EXPECT_TRUE(parse_pretend_missing("").features.empty());
}

TEST(KernelFeatures, PretendMissingKeepsNamesThatAreNoFeature) {
  const auto pretend = parse_pretend_missing("CAP_NET_RAW,SO_REUSEADDR");
  EXPECT_EQ(pretend.features, std::vector{KernelFeature::cap_net_raw});
  EXPECT_EQ(pretend.unknown, std::vector<std::string>{"SO_REUSEADDR"});
}

TEST(KernelFeatures, EveryFeatureParsesBackFromItsNames) {
  for (const KernelFeature feature : kEveryKernelFeature) {
    EXPECT_EQ(parse_kernel_feature(to_string(feature)), feature);
    EXPECT_EQ(parse_kernel_feature(property_key(feature)), feature);
  }
}

TEST(KernelFeatures, DesignsNeedWhatTheirTraitsSay) {
  EXPECT_EQ(features_needed_by(traits_of_model("reuseport")),
            std::vector{KernelFeature::so_reuseport});
  Traits exclusive = traits_of_model("prefork");
  EXPECT_TRUE(features_needed_by(exclusive).empty());
  exclusive.wakeup = AcceptWakeup::lifo;
  EXPECT_EQ(features_needed_by(exclusive), std::vector{KernelFeature::epoll_exclusive});
  EXPECT_TRUE(features_needed_by(traits_of_model("fork")).empty());
}

// Each probe answers; an absent feature says why in the words the skip uses.
TEST(KernelFeatures, ProbesAnswerWithAReasonWhenAbsent) {
  for (const KernelFeature feature : kEveryKernelFeature) {
    const FeatureProbe& result = probe(feature);
    EXPECT_EQ(result.present, result.absent_because.empty()) << to_string(feature);
    const std::vector needed{feature};
    const auto missing = missing_feature(needed);
    EXPECT_EQ(missing.has_value(), !result.present) << to_string(feature);
    if (missing) {
      EXPECT_EQ(missing->rfind("needs " + std::string(to_string(feature)) + ", which ", 0), 0U)
          << *missing;
    }
  }
}

}  // namespace
}  // namespace csd::harness
