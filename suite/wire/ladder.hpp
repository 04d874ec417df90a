// The story of a TCP connection as it crossed the wire, told from the
// harness's decoder (capture.hpp): each connection's segments with their time
// since its first segment (its SYN), relative sequence numbers (as tcpdump
// prints them without -S), ack, window and marks (SYN, FIN, RST,
// retransmission, zero window), long runs of data folded into one line; then
// written as a text transcript (csd-capture --transcript, a failed check's
// *.wire.txt and suite.log) and as an inline SVG ladder diagram (csd-capture
// --ladder, the report). Both are deterministic: golden files in fixtures/pcaps.
//
// The transcript, one line per segment:
//   0.000077 client > server  [P.]   seq 1:5(4) ack 1 win 64
//   0.000134 server > client  [F.]   seq 101:101(0) ack 5 win 64  (FIN)
// time in seconds since the connection's first segment; who sent it; the
// flags as tcpdump writes them; `seq FIRST:END(LENGTH)` relative to the
// sender's initial sequence number (the SYN is seq 0:0(0), its first data
// byte 1), as in packetdrill's scripts; `ack` relative to the receiver's
// (only with the ACK flag); `win` the raw window field, unscaled as tcpdump
// prints it, and `wscale N` where a SYN carries the option; the marks in
// parentheses. A folded run is one line:
//   0.000210 server > client  ... 31 data segments, 17.9 kB (seq 1153:19009), 31 ACKs, to 0.004011
// Each connection opens with a line "# client ADDR:PORT, server ADDR:PORT: N segments from T s"
// (T: its first segment's time since the capture began).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "capture.hpp"

namespace csd::wire {

enum class Direction : uint8_t { to_server, to_client };

// What makes a segment stand out: each has a word (mark_words) and, in the
// diagram, a colour, so that it reads without colour too.
enum Mark : uint8_t {
  kSyn = 0x01,
  kFin = 0x02,
  kRst = 0x04,
  kRetransmission = 0x08,  // its sequence space was sent before (a resent SYN, data or FIN)
  kZeroWindow = 0x10,      // it advertises a window of 0 (an RST's window means nothing)
};

// One segment of a connection.
struct Step {
  harness::Segment segment;  // as decoded: absolute sequence numbers
  Direction direction = Direction::to_server;
  std::chrono::microseconds time{0};  // since the connection's first segment
  uint32_t seq = 0;                   // relative to the sender's initial sequence number
  uint32_t ack = 0;                   // relative to the receiver's; read with the ACK flag only
  uint8_t marks = 0;

  [[nodiscard]] uint32_t end() const { return seq + segment.payload; }
  [[nodiscard]] bool has(Mark mark) const { return (marks & mark) != 0; }
};

// A run of data segments one way, and the pure ACKs among them, told as one line.
struct Fold {
  Direction direction = Direction::to_client;
  std::chrono::microseconds first{0};  // the first folded segment's time
  std::chrono::microseconds last{0};   // the last's
  std::size_t data_segments = 0;
  std::size_t acks = 0;
  uint64_t bytes = 0;
  uint32_t seq = 0;  // the data's range, relative
  uint32_t end = 0;
};

using Row = std::variant<Step, Fold>;

struct Endpoint {
  std::string address;  // "127.0.0.1", "::1"; "" where the decoder had none
  uint16_t port = 0;
  // "127.0.0.1:5123", "[::1]:5123", ":5123" without an address.
  [[nodiscard]] std::string text() const;
};

struct Connection {
  Endpoint client;
  Endpoint server;
  std::chrono::microseconds start{0};  // its first segment, since the capture began
  std::size_t segments = 0;            // its segments, folded or not
  std::vector<Row> rows;               // in the order captured
};

struct Options {
  // A run of more data segments than this one way becomes a Fold, keeping
  // `keep` segments at each end; SIZE_MAX folds nothing.
  std::size_t fold_above = 6;
  std::size_t keep = 2;
};

// The connections among `segments` (as read_pcap_file or Capture gives
// them), in the order of their first segment. A connection is a pair of
// endpoints from its SYN on; a SYN with a new sequence number on the same
// pair starts another. The client is the end that is not `server_port`;
// with 0, the end that sent the connection's first SYN (else its first
// segment). Marked segments (mark_words) are never folded away.
std::vector<Connection> connections(const std::vector<harness::Segment>& segments,
                                    uint16_t server_port = 0, const Options& options = {});

// The transcript of every connection (the format above), each line ending in '\n'.
std::string transcript(const std::vector<Connection>& connections);

// An SVG document, standalone and fit to put inline in HTML: per connection,
// two lifelines (client left, server right, each labelled with its address
// and port) and an arrow per row sloping down in time order, its label above
// it; RST in the report's failure colour, FIN, retransmission and zero window
// each in a colour of its own and named in the label, a fold as one dashed
// arrow. No external styles or scripts; all text escaped.
std::string svg(const std::vector<Connection>& connections);

// The text above a segment's arrow, also the transcript's line after the
// direction: "0.000077 [P.] seq 1:5(4) ack 1 win 64  (FIN)" (marks last).
std::string label(const Step& step);
// "... 31 data segments, 17.9 kB (seq 1153:19009), 31 ACKs ..."
std::string label(const Fold& fold);
// "SYN", "FIN", "RST", "retransmission", "zero window": the marks, in that order.
std::vector<std::string_view> mark_words(uint8_t marks);
// "0.000077": seconds with six decimals, from whole microseconds.
std::string seconds(std::chrono::microseconds time);

}  // namespace csd::wire
