// The robust/* family's fixture, shared by robust_test.cpp (what a bad or
// rude client costs) and robust_when_full_test.cpp (more clients than the
// server has room for). googletest requires one fixture type per suite, so it
// lives here, outside any anonymous namespace.
#pragma once

#include <string_view>

#include "procfs.hpp"
#include "server_test.hpp"
#include "wire.hpp"

namespace csd::suite {

class Robust : public ServerTest {
 public:
  using ServerTest::ServerTest;

 protected:
  // Sends `request` and expects the connection closed, with no reply bytes,
  // within a generous deadline; then expects the server to still serve.
  void expect_rejected_and_still_serving(std::string_view request) {
    EXPECT_TRUE(ClosedWithoutReply(target(), request));
    ASSERT_TRUE(harness::read_proc(server().pid()))
        << "the server's main process died after " << printable(request);
    EXPECT_TRUE(GotExactReply(fetch(100), 100))
        << "after " << printable(request) << " the server must keep serving";
  }
};

}  // namespace csd::suite
