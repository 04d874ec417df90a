// What crosses the wire, seen with libpcap: a live capture of one TCP port on
// the loopback device, decoded to the few fields the checks read (direction,
// flags, seq, ack, payload length) and a ladder diagram draws (addresses,
// window, the SYN's window scale), and kept raw so that a failed check can
// leave a .pcap behind for tcpdump -r or Wireshark.
//
// Isolation under `ctest -j` comes from the BPF filter on the test's own
// leased port (ports.hpp): no other test's connection uses it. Knows nothing
// of any one design or check.
#pragma once

#include <sys/time.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct pcap;
struct pcap_pkthdr;

namespace csd::harness {

// An IP address as the decoder found it in the header: 4 bytes, or 16 for IPv6.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool v6 = false;

  // "127.0.0.1", "::1" (inet_ntop's text); "" for an address never decoded.
  [[nodiscard]] std::string text() const;
  bool operator==(const IpAddress&) const = default;
};

// One TCP segment, as the checks need it.
struct Segment {
  enum Flag : uint8_t { kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10 };

  std::chrono::microseconds time{0};  // since the capture (or the file's first packet) began
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t flags = 0;  // TCP flags byte: Flag bits, plus URG 0x20, ECE 0x40, CWR 0x80
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint32_t payload = 0;  // TCP payload bytes, from the IP lengths (not the snapshot)
  // The window field as it travels, unscaled: what tcpdump prints as "win".
  // The scale a side applies to it is in its SYN's options (window_scale).
  uint16_t window = 0;
  std::optional<uint8_t> window_scale;  // the wscale option (RFC 7323), where the segment has one
  IpAddress src_addr;
  IpAddress dst_addr;

  [[nodiscard]] bool has(Flag flag) const { return (flags & flag) != 0; }
  [[nodiscard]] bool fin() const { return has(kFin); }
  [[nodiscard]] bool syn() const { return has(kSyn); }
  [[nodiscard]] bool rst() const { return has(kRst); }
  [[nodiscard]] bool from(uint16_t port) const { return src_port == port; }
};

// tcpdump's notation for the flags, in its order (F S R P . U E W): "S",
// "S.", "P.", "FP.", "R", "R.", ".", "S.E", "none".
std::string flag_string(uint8_t flags);

// "0.000412  43122 > 5123  [P.]  seq 1:201 ack 1 len 200" with sequence
// numbers as they are (tcpdump -S -n): the one format for every listing.
// Given the server's port, a direction word follows the time:
// "0.000412  client>server  43122 > 5123  [P.]  ..." (csd-capture's lines).
std::string describe(const Segment& segment, uint16_t server_port = 0);

// Decodes one captured frame of link type `linktype` (a DLT_ value:
// EN10MB, NULL, LOOP, LINUX_SLL, LINUX_SLL2 or RAW; IPv4 or IPv6); nullopt
// if it is not TCP or is too short to say.
std::optional<Segment> decode_frame(int linktype, std::span<const uint8_t> frame);

// Reads a .pcap file (tests of the decoder, csd-capture -r). Throws
// CaptureError if it cannot be read.
std::vector<Segment> read_pcap_file(const std::filesystem::path& file);

class CaptureError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The capture could not start for a reason of the machine, not of the code
// under test: no CAP_NET_RAW (PCAP_ERROR_PERM), the device down or absent.
// A check skips with what() as its reason.
class CaptureUnavailable : public CaptureError {
 public:
  using CaptureError::CaptureError;
};

class Capture {
 public:
  using Clock = std::chrono::steady_clock;
  using Predicate = std::function<bool(const Segment&)>;

  // Starts capturing TCP segments to or from `port` on `device`; every
  // segment sent once the constructor has returned is seen. Throws
  // CaptureUnavailable or CaptureError.
  explicit Capture(uint16_t port, const std::string& device = "lo");
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;
  Capture(Capture&&) noexcept;
  Capture& operator=(Capture&&) noexcept;

  [[nodiscard]] uint16_t port() const { return port_; }
  [[nodiscard]] int linktype() const { return linktype_; }

  // Reads what has arrived so far, without blocking.
  void drain();
  // The segments seen so far, in order of arrival.
  [[nodiscard]] const std::vector<Segment>& segments();

  struct Awaited {
    std::optional<Segment> segment;
    std::string failure;  // when there is none: what was awaited, for how long, what was seen
    explicit operator bool() const { return segment.has_value(); }
    const Segment* operator->() const { return &*segment; }
  };
  // The first segment, among those seen so far and those still to come,
  // that satisfies `matches`, waiting (poll() on libpcap's selectable
  // descriptor) until `timeout`. `what` says what is awaited, in words.
  Awaited wait_for(std::string_view what, const Predicate& matches,
                   Clock::duration timeout = std::chrono::seconds{5});

  // Every segment seen so far, one describe() line each, after a header.
  [[nodiscard]] std::string listing();

  // Writes every packet seen so far, as captured, to `file` (pcap format);
  // only the first `max_packets` of them if fewer (csd-capture -c -w).
  void save(const std::filesystem::path& file, std::size_t max_packets = SIZE_MAX);

  // Each packet as captured (for save(), and for csd-capture -w).
  struct Packet {
    timeval ts{};
    uint32_t wire_length = 0;
    std::vector<uint8_t> bytes;
  };
  [[nodiscard]] const std::vector<Packet>& packets() const { return packets_; }
  // The descriptor to poll() for "packets to drain()" (csd-capture's loop).
  [[nodiscard]] int selectable_fd() const { return selectable_fd_; }

 private:
  struct Closer {
    void operator()(pcap* handle) const;
  };
  static void on_packet(unsigned char* self, const pcap_pkthdr* header, const unsigned char* bytes);

  std::unique_ptr<pcap, Closer> handle_;
  uint16_t port_ = 0;
  int linktype_ = 0;
  int snaplen_ = 0;
  int selectable_fd_ = -1;
  std::optional<timeval> first_;
  std::vector<Packet> packets_;
  std::vector<Segment> segments_;
};

}  // namespace csd::harness
