// What googletest prints of the types the tests compare: their names, as
// their to_string() spells them. A type with no operator<< prints as its
// bytes ("4-byte object <04-00 00-00>"), which is what a failure's reason
// would then read; csd-selftest checks no reason of a broken fixture's run does.
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "connection.hpp"
#include "kernel_features.hpp"
#include "load.hpp"
#include "manifest.hpp"
#include "request_reader.hpp"
#include "traits.hpp"

namespace {

using ::testing::PrintToString;

// Each value prints as to_string() names it.
template <typename Enum, std::size_t N>
void expect_printed_by_name(const std::array<Enum, N>& values) {
  for (const Enum value : values) EXPECT_EQ(PrintToString(value), std::string(to_string(value)));
}

TEST(PrintedByName, ClientLibrary) {
  using csd::client::Ending;
  using csd::client::Outcome;
  using csd::client::Status;
  EXPECT_EQ(PrintToString(Status::timeout), "timeout");
  expect_printed_by_name(std::array{Status::ok, Status::eof, Status::reset, Status::refused,
                                    Status::timeout, Status::error});
  EXPECT_EQ(PrintToString(Ending::still_open), "still_open");
  expect_printed_by_name(
      std::array{Ending::eof, Ending::reset, Ending::extra_bytes, Ending::still_open});
  EXPECT_EQ(PrintToString(Outcome::short_reply), "short_reply");
  expect_printed_by_name(std::array{Outcome::ok, Outcome::short_reply, Outcome::long_reply,
                                    Outcome::refused, Outcome::reset, Outcome::timeout,
                                    Outcome::error});
}

TEST(PrintedByName, Harness) {
  using csd::harness::AcceptWakeup;
  using csd::harness::KernelFeature;
  using csd::harness::WireProtocol;
  using csd::harness::Workers;
  EXPECT_EQ(PrintToString(Workers::process_pool), "process pool");
  expect_printed_by_name(csd::harness::kEveryWorkers);
  EXPECT_EQ(PrintToString(AcceptWakeup::lifo), "lifo");
  expect_printed_by_name(std::array{AcceptWakeup::unspecified, AcceptWakeup::fifo,
                                    AcceptWakeup::lifo, AcceptWakeup::all, AcceptWakeup::some});
  EXPECT_EQ(PrintToString(KernelFeature::so_reuseport), "SO_REUSEPORT");
  expect_printed_by_name(csd::harness::kEveryKernelFeature);
  EXPECT_EQ(PrintToString(WireProtocol::echo), "echo");
  expect_printed_by_name(std::array{WireProtocol::size, WireProtocol::echo});
}

TEST(PrintedByName, ReferenceServersRequestParser) {
  using Status = csd::impl::SizeRequestParser::Status;
  EXPECT_EQ(PrintToString(Status::invalid), "invalid");
  expect_printed_by_name(std::array{Status::incomplete, Status::complete, Status::invalid});
}

}  // namespace
