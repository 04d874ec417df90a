// The implementations under test, loaded once by csd-suite's main() before
// GoogleTest registers the parameterized tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "manifest.hpp"

namespace csd::suite {

// Set by main() before InitGoogleTest; read by INSTANTIATE_TEST_SUITE_P.
std::vector<harness::Manifest>& implementations();

// gtest parameter name: the manifest's name made safe ("csd-prefork" -> "csd_prefork").
struct ImplementationName {
  std::string operator()(const testing::TestParamInfo<harness::Manifest>& info) const {
    return harness::parameter_name(info.param.name);
  }
};

}  // namespace csd::suite

// Instantiates a check family over every implementation under test, so that
// test names read Impl/FAMILY.CHECK/IMPLEMENTATION.
#define CSD_INSTANTIATE_FAMILY(family)                                                         \
  INSTANTIATE_TEST_SUITE_P(Impl, family, ::testing::ValuesIn(::csd::suite::implementations()), \
                           ::csd::suite::ImplementationName{})
