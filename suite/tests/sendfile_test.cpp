// Sendfile: csd-sendfile's client gets the file, every byte at its offset, in every mode
// (sendfile, readwrite, splice) and however the transfer is cut up. Verify behavior for the
// sequence: write a file of N bytes, start the demo on it, connect, read to EOF, compare.
// Fast reader: 256 KiB reads from a blocking server. Slow reader: 1 KiB reads through a 4 KiB
// receive buffer from a non-blocking server with a 4 KiB send buffer (partial returns).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "demos.hpp"
#include "evidence.hpp"
#include "fd.hpp"
#include "procfs.hpp"
#include "server_test.hpp"
#include "timeouts.hpp"
#include "wait.hpp"

namespace csd::suite {
namespace {

namespace fs = std::filesystem;

// The file's bytes are a function of their offset (splitmix64 of the 8-byte
// word's index), so the reader checks every byte at its offset as it arrives:
// as strong as a SHA-256 of the whole (any byte lost, added or moved shows),
// it names the first offset that differs, and it keeps no 256 MiB copy.
uint64_t word_at(uint64_t index) {
  uint64_t z = index * 0x9E3779B97F4A7C15ULL + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31U);
}

void fill_pattern(std::span<char> out, uint64_t offset) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    const uint64_t at = offset + i;
    out[i] = static_cast<char>(word_at(at / 8) >> (8 * (at % 8)));
  }
}

// The file to serve, with no name: an O_TMPFILE under $TMPDIR that only
// this process holds, so it goes with us even when we are SIGKILLed (a
// named file of up to 256 MiB would be left behind). The demo opens it
// through our descriptor's /proc path.
class PatternFile {
 public:
  explicit PatternFile(uint64_t size)
      : fd_(::open(fs::temp_directory_path().c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) {
    if (!fd_)
      throw std::system_error(errno, std::generic_category(), "open O_TMPFILE");
    std::vector<char> chunk(std::size_t{1} << 20);
    for (uint64_t offset = 0; offset < size; offset += chunk.size()) {
      const auto n = static_cast<std::size_t>(std::min<uint64_t>(chunk.size(), size - offset));
      fill_pattern(std::span(chunk).first(n), offset);
      // A regular file takes a whole write (no signal interrupts it here).
      if (::pwrite(fd_.get(), chunk.data(), n, static_cast<off_t>(offset)) !=
          static_cast<ssize_t>(n))
        throw std::system_error(errno, std::generic_category(), "write the pattern file");
    }
  }
  [[nodiscard]] std::string path() const {
    return fmt::format("/proc/{}/fd/{}", ::getpid(), fd_.get());
  }

 private:
  Fd fd_;
};

struct Received {
  uint64_t bytes = 0;
  std::optional<uint64_t> first_wrong_byte;
  std::string problem;  // why it stopped before EOF
};

bool asleep(pid_t pid) {
  const auto info = harness::read_proc(pid);
  return info && info->state == 'S';
}

// Connects to 127.0.0.1:`port` and reads to EOF in steps of `step` bytes,
// checking each byte against the pattern. `receive_buffer`, when not 0, is
// set before connect(), so the window the client offers is that small.
// `blocked_sender`, when not 0, is the server's pid: the first read waits
// until bytes have arrived and the server sleeps, i.e. until it waits for
// room (it cannot have finished: the file is larger than every buffer on the
// way), so that it certainly waits at least once, however the two are
// scheduled.
Received read_and_compare(uint16_t port, std::size_t step, int receive_buffer,
                          pid_t blocked_sender = 0) {
  Received got;
  const Fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (receive_buffer > 0)
    ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(port);
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&server), sizeof server) < 0) {
    got.problem = fmt::format("connect: {}", std::strerror(errno));
    return got;
  }
  if (blocked_sender != 0) {
    const bool blocked = harness::wait_until(
        [&] {
          int queued = 0;
          return ::ioctl(sock.get(), FIONREAD, &queued) == 0 && queued > 0 &&
                 asleep(blocked_sender);
        },
        5s);
    if (!blocked) {
      got.problem = "the server never waited for room: no bytes, or it never slept, in 5 s";
      return got;
    }
  }
  std::vector<char> buffer(step);
  std::vector<char> expected(step);
  for (;;) {
    pollfd readable{sock.get(), POLLIN, 0};
    if (::poll(&readable, 1, static_cast<int>(harness::scaled_ms(30s).count())) == 0) {
      got.problem = fmt::format("nothing for 30 s after {} bytes", got.bytes);
      return got;
    }
    const ssize_t n = ::read(sock.get(), buffer.data(), buffer.size());
    if (n == 0)
      return got;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      got.problem = fmt::format("read after {} bytes: {}", got.bytes, std::strerror(errno));
      return got;
    }
    const auto count = static_cast<std::size_t>(n);
    if (!got.first_wrong_byte) {
      fill_pattern(std::span(expected).first(count), got.bytes);
      const auto [mine, theirs] =
          std::mismatch(buffer.begin(), buffer.begin() + n, expected.begin());
      if (mine != buffer.begin() + n)
        got.first_wrong_byte = got.bytes + static_cast<uint64_t>(mine - buffer.begin());
    }
    got.bytes += count;
  }
}

// The slow transfer the report draws: larger than every buffer on the way,
// a few hundred segments.
constexpr uint64_t kDrawnSize = 65537;

struct Transfer {
  std::string mode;  // --mode
  uint64_t size = 0;
  bool slow_reader = false;
};

void PrintTo(const Transfer& transfer, std::ostream* os) {
  *os << "--mode " << transfer.mode << ", " << transfer.size << " bytes, "
      << (transfer.slow_reader ? "slow" : "fast") << " reader";
}

std::string size_name(uint64_t size) {
  if (size >= (1U << 20))
    return fmt::format("{}MiB{}", size >> 20U, (size & 0xFFFFFU) != 0 ? "plus1" : "");
  return fmt::format("{}B", size);
}

std::string TransferName(const ::testing::TestParamInfo<Transfer>& info) {
  return fmt::format("{}_{}_{}", info.param.mode, size_name(info.param.size),
                     info.param.slow_reader ? "SlowReader" : "FastReader");
}

std::vector<Transfer> transfers() {
  constexpr uint64_t kMiB = 1U << 20;
  std::vector<Transfer> all;
  for (const char* mode : {"sendfile", "readwrite", "splice"}) {
    for (const uint64_t size :
         std::initializer_list<uint64_t>{0, 1, 4095, 4096, 65537, kMiB + 1, 256 * kMiB})
      all.push_back({mode, size, false});
    // The slow reader is slow by construction (small buffers, small reads),
    // not by sleeps, so it is sized in bytes: 8 MiB is about 1,600 partial
    // returns, a fraction of a second.
    for (const uint64_t size :
         std::initializer_list<uint64_t>{0, 1, 4095, 4096, kDrawnSize, kMiB + 1, 8 * kMiB})
      all.push_back({mode, size, true});
  }
  return all;
}

class Sendfile : public ::testing::TestWithParam<Transfer> {};

// The server sleeps only in accept() and, non-blocking, in poll() after a
// send that found no room: its voluntary context switches (from /proc)
// during one transfer, less the one back into accept(), count the waits
// that partial transfers forced, seen from outside the program.
uint64_t voluntary_switches(pid_t pid) {
  const auto info = harness::read_proc(pid);
  return info ? info->voluntary_ctxt_switches : 0;
}

TEST_P(Sendfile, EveryByteAtItsOffset) {
  const Transfer& transfer = GetParam();
  const PatternFile file(transfer.size);
  std::vector<std::string> flags{"--file", file.path(), "--mode", transfer.mode};
  if (transfer.slow_reader)
    flags.insert(flags.end(), {"--nonblocking", "--sndbuf", "4096"});
  const auto server = start_demo_server("csd-sendfile", flags);
  const pid_t pid = server->pid();
  // One slow transfer per mode, captured for the report's demo gallery: the
  // zero windows the server's partial writes wait out. Not the verdict.
  std::optional<EvidenceCapture> capture;
  if (transfer.slow_reader && transfer.size == kDrawnSize) {
    capture_if_possible(capture, server->port());
    if (capture)
      capture->keep();
  }

  ASSERT_TRUE(harness::wait_until([&] { return asleep(pid); }, 5s))
      << "csd-sendfile never went to sleep in accept(): " << harness::describe(pid);
  // Send buffer, receive window and the most one call queues (64 KiB) are
  // all smaller than such a file: the transfer must be cut up.
  const bool larger_than_buffers = transfer.slow_reader && transfer.size > 65536;
  const uint64_t switches_before = voluntary_switches(pid);
  const Received got =
      transfer.slow_reader
          ? read_and_compare(server->port(), 1024, 4096, larger_than_buffers ? pid : 0)
          : read_and_compare(server->port(), std::size_t{256} * 1024, 0);
  EXPECT_EQ(got.problem, "");
  EXPECT_EQ(got.bytes, transfer.size) << "bytes received of a " << transfer.size << "-byte file";
  EXPECT_FALSE(got.first_wrong_byte.has_value())
      << "the byte at offset " << got.first_wrong_byte.value_or(0) << " is not the file's";

  ASSERT_TRUE(harness::wait_until([&] { return asleep(pid); }, 5s))
      << "csd-sendfile did not go back to accept(): " << harness::describe(pid);
  const uint64_t switches = voluntary_switches(pid) - switches_before;
  const uint64_t waits = switches > 0 ? switches - 1 : 0;
  RecordProperty("server_waits_for_room", static_cast<int>(waits));
  // The demo's own tally, a second opinion, shown in the report's gallery.
  if (server->wait_for_output("sent ", 2000ms))
    RecordProperty("demo_output", server->output());
  if (larger_than_buffers) {
    EXPECT_GE(waits, 1U) << "the server never waited for room: were the transfers partial?";
  }
}

INSTANTIATE_TEST_SUITE_P(, Sendfile, ::testing::ValuesIn(transfers()), TransferName);

}  // namespace
}  // namespace csd::suite
