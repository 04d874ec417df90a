// csd-capture: a focused `tcpdump -n -S` for one TCP port, built on the
// suite's own capture (suite/harness/capture.hpp), so that a person sees by
// hand exactly what the checks see: one line per segment as it arrives, until
// Ctrl-C, -c COUNT segments or --timeout; then a count, and the -w file. With
// --transcript and --ladder, the connections' story instead (suite/wire).
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "capture.hpp"
#include "fd.hpp"
#include "ladder.hpp"

namespace {

namespace harness = csd::harness;
using Clock = std::chrono::steady_clock;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnavailable = 3;

struct Args {
  int port = 0;
  std::string device = "lo";
  std::string write_file;
  std::string read_file;
  std::size_t count = 0;  // 0: no limit
  double timeout_s = 0;   // 0: no limit
  bool transcript = false;
  std::string ladder_file;
};

constexpr const char* kDescription = R"(NAME
  csd-capture - print the TCP segments of one port as they cross the wire, one line each

SYNOPSIS
  csd-capture -p PORT [-i IFACE] [-w FILE.pcap] [-c COUNT] [--timeout S]
              [--transcript] [--ladder FILE.svg]
  csd-capture -r FILE.pcap [-p PORT] [-c COUNT] [--transcript] [--ladder FILE.svg]

DESCRIPTION
  A focused `tcpdump -n -S 'tcp port PORT'`, with the suite's own capture and decoder,
  so that a person sees by hand exactly what the checks see: one line per segment as it
  arrives, until Ctrl-C, -c COUNT segments or --timeout; then a count, and the -w file.
)";

constexpr const char* kFooter = R"(OUTPUT
  When capturing, stderr says "csd-capture: capturing on IFACE port PORT, link type T".
  Each segment is one line on stdout:
    TIME  DIRECTION  SRC > DST  [FLAGS]  seq SEQ[:END] [ack ACK] len LEN
  TIME is seconds since the first segment; DIRECTION is client>server when the
  segment goes to PORT, server>client when it comes from it; FLAGS and sequence
  numbers are written as tcpdump -S writes them (absolute, F S R P . U E W).
  At the end, stderr says "N segments captured" (and "wrote FILE" with -w).

  --transcript prints, instead of those lines, each connection's story at the end:
    # client ADDR:PORT, server ADDR:PORT: N segments from T s
    TIME DIRECTION  [FLAGS] seq FIRST:END(LENGTH) [ack ACK] win WIN [wscale W]  [(MARKS)]
  TIME is seconds since the connection's first segment (its SYN); DIRECTION is
  "client > server" or "server > client"; seq and ack are relative to each side's
  first sequence number, as tcpdump prints them without -S (the SYN is 0:0(0));
  win is the raw window field; MARKS are SYN, FIN, RST, retransmission and zero
  window. More than 6 data segments in a row one way fold into one line
  "... N data segments, SIZE (seq A:B), M ACKs, to TIME ...".
  --ladder FILE.svg draws the same as a ladder diagram (client left, server right,
  an arrow per segment; RST, FIN, retransmissions and zero windows marked).

STOPPING
  Ctrl-C (SIGINT) or SIGTERM, -c COUNT segments, or --timeout seconds, whichever
  comes first. Each is a normal end: the count is printed, the -w file written.

PRIVILEGE
  A live capture needs CAP_NET_RAW (root). Without it, csd-capture says so and
  exits 3; reading a file (-r) needs none.

EXIT STATUS
  0  stopped normally (signal, count or timeout)
  1  an error while capturing, or writing or reading a file
  2  bad usage
  3  capture unavailable on this machine: no CAP_NET_RAW, or the device is absent or down

EXAMPLES
  csd-capture -p 5123                  watch port 5123 on lo until Ctrl-C
  csd-capture -p 5123 -c 6             the handshake, a request and its reply
  csd-capture -p 5123 -w run.pcap --timeout 10
                                       keep 10 s of traffic for tcpdump -r or Wireshark
  csd-capture -r run.pcap -p 5123      print a saved capture the same way
  csd-capture -r run.pcap --transcript --ladder run.svg
                                       its connections' story, as text and as a diagram

SEE ALSO
  tcpdump(8), pcap-filter(7), csd-client(1), csd-suite(1))";

void add_options(CLI::App& app, Args& a) {
  app.add_option("-p,--port", a.port, "TCP port to watch (either end of the connection)")
      ->check(CLI::Range(1, 65535));
  app.add_option("-i,--interface", a.device, "Device to capture on")->capture_default_str();
  app.add_option("-w,--write", a.write_file,
                 "Also write the packets, as captured, to this .pcap file");
  app.add_option("-r,--read", a.read_file,
                 "Print the segments of a saved .pcap file instead of capturing (-p filters)");
  app.add_option("-c,--count", a.count, "Stop after this many segments")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40U));
  app.add_option("--timeout", a.timeout_s, "Stop after this many seconds")
      ->check(CLI::PositiveNumber);
  app.add_flag("--transcript", a.transcript,
               "At the end, each connection's story (relative seq/ack, window, marks) "
               "instead of a line per segment");
  app.add_option("--ladder", a.ladder_file,
                 "Also draw the connections as a ladder diagram in this SVG file");
}

void print_line(const harness::Segment& segment, uint16_t port) {
  fmt::print("{}\n", harness::describe(segment, port));
  std::fflush(stdout);  // one line as each segment arrives, even into a pipe
}

std::string segments_captured(std::size_t n) {
  return fmt::format("{} segment{} captured", n, n == 1 ? "" : "s");
}

// A ladder file that cannot be written fails at the start, not after a capture.
void check_writable(const std::string& file) {
  if (!file.empty() && !std::ofstream(file))
    throw harness::CaptureError(fmt::format("{}: {}", file, std::strerror(errno)));
}

// The end of a run: --transcript's story on stdout, the count on stderr, the
// --ladder diagram written (the -w file, if any, follows).
void finish(const Args& a, const std::vector<harness::Segment>& segments) {
  std::vector<csd::wire::Connection> connections;
  if (a.transcript || !a.ladder_file.empty())
    connections = csd::wire::connections(segments, static_cast<uint16_t>(a.port));
  if (a.transcript) {
    fmt::print("{}", csd::wire::transcript(connections));
    std::fflush(stdout);
  }
  fmt::print(stderr, "{}\n", segments_captured(segments.size()));
  if (a.ladder_file.empty())
    return;
  std::ofstream out(a.ladder_file);
  out << csd::wire::svg(connections);
  if (!out.flush())
    throw harness::CaptureError(fmt::format("{}: {}", a.ladder_file, std::strerror(errno)));
  fmt::print(stderr, "wrote {}\n", a.ladder_file);
}

// csd-capture -r: every TCP segment of the file (of PORT's, if given).
int print_file(const Args& a) {
  const auto port = static_cast<uint16_t>(a.port);
  check_writable(a.ladder_file);
  std::vector<harness::Segment> printed;
  for (const auto& segment : harness::read_pcap_file(a.read_file)) {
    if (port != 0 && segment.src_port != port && segment.dst_port != port)
      continue;
    if (a.count != 0 && printed.size() == a.count)
      break;
    if (!a.transcript)
      print_line(segment, port);
    printed.push_back(segment);
  }
  finish(a, printed);
  return 0;
}

// SIGINT and SIGTERM, blocked and read from a descriptor, so that the one
// poll() of the loop wakes for a segment or a signal, with no handler racing it.
// Linux queues a blocked signal even when it is ignored (as SIGINT is for
// `csd-capture &` in a script), so a script's `kill -INT` stops it too.
csd::Fd stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0)
    throw harness::CaptureError(fmt::format("sigprocmask: {}", std::strerror(errno)));
  csd::Fd fd(::signalfd(-1, &set, SFD_CLOEXEC));
  if (!fd)
    throw harness::CaptureError(fmt::format("signalfd: {}", std::strerror(errno)));
  return fd;
}

std::string linktype_name(int linktype) {
  const char* name = pcap_datalink_val_to_name(linktype);
  return name != nullptr ? name : std::to_string(linktype);
}

int capture_live(const Args& a) {
  const auto port = static_cast<uint16_t>(a.port);
  const csd::Fd signals = stop_signals();
  harness::Capture capture(port, a.device);
  if (!a.write_file.empty())
    capture.save(a.write_file, 0);  // a path that cannot be written fails now, not at the end
  check_writable(a.ladder_file);
  std::optional<Clock::time_point> deadline;
  if (a.timeout_s > 0)
    deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(a.timeout_s));
  fmt::print(stderr, "csd-capture: capturing on {} port {}, link type {}\n", a.device, port,
             linktype_name(capture.linktype()));

  // Packets are decoded here, one by one, rather than read from segments():
  // with -c, the -w file must end with the packet of the COUNTth segment even
  // when more arrived in the same batch.
  std::size_t next_packet = 0;
  std::vector<harness::Segment> printed;
  const auto limit_reached = [&] { return a.count != 0 && printed.size() == a.count; };
  const auto print_arrivals = [&] {
    capture.drain();
    const auto& packets = capture.packets();
    for (; next_packet < packets.size() && !limit_reached(); ++next_packet) {
      const auto& packet = packets[next_packet];
      auto segment = harness::decode_frame(capture.linktype(), packet.bytes);
      if (!segment)
        continue;
      const auto& first = packets.front().ts;
      segment->time = std::chrono::seconds{packet.ts.tv_sec - first.tv_sec} +
                      std::chrono::microseconds{packet.ts.tv_usec - first.tv_usec};
      if (!a.transcript)
        print_line(*segment, port);
      printed.push_back(*segment);
    }
  };

  for (;;) {
    print_arrivals();
    if (limit_reached())
      break;
    int wait_ms = -1;
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());
      if (left.count() <= 0)
        break;
      wait_ms = static_cast<int>(left.count());
    }
    std::array<pollfd, 2> fds{{{capture.selectable_fd(), POLLIN, 0}, {signals.get(), POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), wait_ms) < 0) {
      if (errno == EINTR)
        continue;
      throw harness::CaptureError(fmt::format("poll: {}", std::strerror(errno)));
    }
    if ((fds[1].revents & POLLIN) != 0) {
      print_arrivals();  // what crossed the wire before the signal
      break;
    }
  }
  finish(a, printed);
  if (!a.write_file.empty()) {
    capture.save(a.write_file, next_packet);
    fmt::print(stderr, "wrote {}\n", a.write_file);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription};
  app.option_defaults()->group("OPTIONS");
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.footer(kFooter);
  Args a;
  add_options(app, a);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, or the error with a hint
    return code == 0 ? 0 : kExitUsage;
  }
  if (a.read_file.empty() && a.port == 0) {
    fmt::print(stderr,
               "csd-capture: -p PORT is required (to capture; -r FILE reads a file)\n"
               "Run with --help for more information.\n");
    return kExitUsage;
  }
  if (!a.read_file.empty() && (!a.write_file.empty() || a.timeout_s > 0)) {
    fmt::print(stderr, "csd-capture: -r reads a file: -w and --timeout apply to a live capture\n");
    return kExitUsage;
  }
  try {
    return a.read_file.empty() ? capture_live(a) : print_file(a);
  } catch (const harness::CaptureUnavailable& e) {
    fmt::print(
        stderr,
        "csd-capture: {}\n(a live capture needs CAP_NET_RAW, as root has, and the device up)\n",
        e.what());
    return kExitUnavailable;
  } catch (const std::exception& e) {
    fmt::print(stderr, "csd-capture: {}\n", e.what());
    return kExitError;
  }
}
