// The size-protocol request reader of the reference servers (impl/lib).
#include "request_reader.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "fd.hpp"
#include "protocols.hpp"

namespace {

using csd::impl::SizeRequestParser;
using Status = SizeRequestParser::Status;

TEST(SizeRequestParser, NewlineTerminated) {
  SizeRequestParser p;
  EXPECT_EQ(p.feed("4096\n"), Status::complete);
  EXPECT_EQ(p.size(), 4096U);
}

TEST(SizeRequestParser, CrLfTerminated) {
  SizeRequestParser p;
  EXPECT_EQ(p.feed("4096\r\n"), Status::complete);
  EXPECT_EQ(p.size(), 4096U);
}

TEST(SizeRequestParser, ZeroIsAValidRequest) {
  SizeRequestParser p;
  EXPECT_EQ(p.feed("0\n"), Status::complete);
  EXPECT_EQ(p.size(), 0U);
}

TEST(SizeRequestParser, SplitByteByByte) {
  SizeRequestParser p;
  for (const char c : std::string_view("1234567\r")) {
    EXPECT_EQ(p.feed(std::string_view(&c, 1)), Status::incomplete) << "after '" << c << "'";
    EXPECT_TRUE(p.awaiting_newline());
  }
  EXPECT_EQ(p.feed("\n"), Status::complete);
  EXPECT_EQ(p.size(), 1234567U);
}

TEST(SizeRequestParser, NoGraceClockBeforeTheFirstDigit) {
  SizeRequestParser p;
  EXPECT_EQ(p.feed(""), Status::incomplete);
  EXPECT_FALSE(p.awaiting_newline());  // a silent client is not a bare number
  EXPECT_TRUE(p.received_nothing());
}

TEST(SizeRequestParser, BareDigitsAcceptedWhenInputGoesIdle) {
  SizeRequestParser p;
  EXPECT_EQ(p.feed("30"), Status::incomplete);
  EXPECT_EQ(p.feed("00"), Status::incomplete);
  EXPECT_TRUE(p.awaiting_newline());
  EXPECT_EQ(p.end_of_input(), Status::complete);  // grace passed (or EOF)
  EXPECT_EQ(p.size(), 3000U);
}

TEST(SizeRequestParser, BareDigitsWithDanglingCrAcceptedWhenIdle) {
  SizeRequestParser p;
  p.feed("12\r");
  EXPECT_EQ(p.end_of_input(), Status::complete);
  EXPECT_EQ(p.size(), 12U);
}

TEST(SizeRequestParser, IdleWithNothingIsInvalidButQuiet) {
  SizeRequestParser p;
  EXPECT_EQ(p.end_of_input(), Status::invalid);
  EXPECT_TRUE(p.received_nothing());
}

TEST(SizeRequestParser, EmptyLineIsInvalid) {
  SizeRequestParser p;
  EXPECT_EQ(p.feed("\n"), Status::invalid);
  EXPECT_FALSE(p.received_nothing());
  EXPECT_FALSE(p.error().empty());
  SizeRequestParser crlf;
  EXPECT_EQ(crlf.feed("\r\n"), Status::invalid);
}

TEST(SizeRequestParser, GarbageIsInvalid) {
  for (const std::string_view bad :
       {"abc\n", "12a\n", "-1\n", "+1\n", " 1\n", "1 \n", "1\r2\n", "1\r\r\n", "0x10\n"}) {
    SizeRequestParser p;
    EXPECT_EQ(p.feed(bad), Status::invalid) << bad;
    EXPECT_FALSE(p.error().empty()) << bad;
  }
}

TEST(SizeRequestParser, GarbageIsInvalidEvenWithoutNewline) {
  SizeRequestParser p;
  EXPECT_EQ(p.feed("12x"), Status::invalid);
  EXPECT_EQ(p.end_of_input(), Status::invalid);  // stays invalid
}

TEST(SizeRequestParser, TwentyDigitsAllowedTwentyOneNot) {
  SizeRequestParser ok;
  EXPECT_EQ(ok.feed(std::string(19, '0') + "7\n"), Status::complete);
  EXPECT_EQ(ok.size(), 7U);
  SizeRequestParser bad;
  EXPECT_EQ(bad.feed(std::string(20, '0') + "7\n"), Status::invalid);
  EXPECT_NE(bad.error().find("digits"), std::string::npos) << bad.error();
}

TEST(SizeRequestParser, ExactlyAtTheLimitIsServed) {
  SizeRequestParser p;  // default limit: 1 GiB
  EXPECT_EQ(p.feed("1073741824\n"), Status::complete);
  EXPECT_EQ(p.size(), csd::impl::kDefaultMaxBytes);
}

TEST(SizeRequestParser, OverTheLimitIsInvalid) {
  SizeRequestParser p;
  EXPECT_EQ(p.feed("1073741825\n"), Status::invalid);
  EXPECT_NE(p.error().find("limit"), std::string::npos) << p.error();
}

TEST(SizeRequestParser, CustomLimit) {
  SizeRequestParser at(100);
  EXPECT_EQ(at.feed("100\n"), Status::complete);
  SizeRequestParser over(100);
  EXPECT_EQ(over.feed("101"), Status::invalid);  // known before the newline
}

TEST(SizeRequestParser, OverflowingUint64IsInvalidNotWrapped) {
  SizeRequestParser p(UINT64_MAX);
  EXPECT_EQ(p.feed("18446744073709551616\n"), Status::invalid);  // 2^64
  SizeRequestParser max(UINT64_MAX);
  EXPECT_EQ(max.feed("18446744073709551615\n"), Status::complete);
  EXPECT_EQ(max.size(), UINT64_MAX);
}

TEST(SizeRequestParser, PipelinedBytesAfterTheNewlineAreIgnored) {
  SizeRequestParser p;
  EXPECT_EQ(p.feed("5\n6\nabc"), Status::complete);
  EXPECT_EQ(p.feed("garbage\n"), Status::complete);
  EXPECT_EQ(p.end_of_input(), Status::complete);
  EXPECT_EQ(p.size(), 5U);
}

// ---- The blocking helper, over a socketpair.

struct Pair {
  csd::Fd client;
  csd::Fd server;
  Pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0) {
      client.reset(fds[0]);
      server.reset(fds[1]);
    }
  }
  void send(std::string_view s) const {
    ASSERT_EQ(::write(client.get(), s.data(), s.size()), ssize_t(s.size()));
  }
};

TEST(ReadSizeRequest, NewlineTerminated) {
  Pair p;
  p.send("42\n");
  EXPECT_EQ(csd::impl::read_size_request(p.server.get(), 100), 42U);
}

TEST(ReadSizeRequest, BareDigitsAfterTheGracePeriod) {
  Pair p;
  p.send("42");  // and nothing more, connection left open
  EXPECT_EQ(csd::impl::read_size_request(p.server.get(), 100, std::chrono::milliseconds{20}), 42U);
}

TEST(ReadSizeRequest, BareDigitsAtEof) {
  Pair p;
  p.send("42");
  ::shutdown(p.client.get(), SHUT_WR);
  EXPECT_EQ(csd::impl::read_size_request(p.server.get(), 100), 42U);
}

TEST(ReadSizeRequest, GarbageAndEmptyEofGiveNothing) {
  Pair bad;
  bad.send("4x\n");
  EXPECT_EQ(csd::impl::read_size_request(bad.server.get(), 100), std::nullopt);
  Pair silent;
  ::shutdown(silent.client.get(), SHUT_WR);
  EXPECT_EQ(csd::impl::read_size_request(silent.server.get(), 100), std::nullopt);
}

TEST(ReplyChunk, AtMost64KiBFromOneBuffer) {
  EXPECT_EQ(csd::impl::reply_chunk(10).size(), 10U);
  EXPECT_EQ(csd::impl::reply_chunk(3'000'000).size(), csd::impl::kReplyChunk);
  EXPECT_EQ(csd::impl::reply_chunk(0).size(), 0U);
  EXPECT_EQ(csd::impl::reply_chunk(5).data(), csd::impl::reply_chunk(70000).data());
}

}  // namespace
