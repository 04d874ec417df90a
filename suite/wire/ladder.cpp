#include "ladder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "xml_text.hpp"

namespace csd::wire {

using harness::Segment;
using harness::xml_escaped;
using std::chrono::microseconds;

namespace {

// a < b in sequence space (RFC 1982 serial arithmetic): right across the wrap.
bool seq_before(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

bool acks(const Segment& s) { return s.has(Segment::kAck); }

// The sequence space a segment takes: its data, and one each for SYN and FIN.
uint32_t space(const Segment& s) { return s.payload + (s.syn() ? 1U : 0U) + (s.fin() ? 1U : 0U); }

Endpoint source(const Segment& s) { return {s.src_addr.text(), s.src_port}; }
Endpoint destination(const Segment& s) { return {s.dst_addr.text(), s.dst_port}; }

// One end of a connection while it is read: where its sequence numbers start,
// and how far it has sent.
struct Side {
  std::optional<uint32_t> isn;
  std::optional<uint32_t> next;  // one past the highest sequence number sent
};

// A connection being read, segment by segment.
class Reader {
 public:
  Reader(const Segment& first, uint16_t server_port) {
    bool client_sent_it = true;
    if (server_port != 0 && (first.dst_port == server_port || first.src_port == server_port))
      client_sent_it = first.dst_port == server_port;
    else if (first.syn())
      client_sent_it = !acks(first);  // a SYN-ACK comes from the server
    const Segment& s = first;
    connection_.client = client_sent_it ? source(s) : destination(s);
    connection_.server = client_sent_it ? destination(s) : source(s);
    connection_.start = s.time;
  }

  [[nodiscard]] bool sent_by_client(const Segment& s) const {
    return s.src_port == connection_.client.port && source(s).address == connection_.client.address;
  }
  // A SYN of the client's with a sequence number other than the first's: a new connection
  // on the same pair of endpoints.
  [[nodiscard]] bool starts_another(const Segment& s) const {
    return s.syn() && !acks(s) && sent_by_client(s) && client_syn_ && *client_syn_ != s.seq;
  }

  void add(const Segment& s) {
    const bool from_client = sent_by_client(s);
    Side& sender = from_client ? client_ : server_;
    Side& receiver = from_client ? server_ : client_;
    if (from_client && s.syn() && !acks(s) && !client_syn_)
      client_syn_ = s.seq;
    // A side's first sequence number is its SYN's; seen mid-stream, one
    // before the first it sends (or is acknowledged), so its first byte is 1.
    if (!sender.isn)
      sender.isn = s.syn() ? s.seq : s.seq - 1;
    if (acks(s) && !receiver.isn)
      receiver.isn = s.ack - 1;

    Step step;
    step.segment = s;
    step.direction = from_client ? Direction::to_server : Direction::to_client;
    step.time = s.time - connection_.start;
    step.seq = s.seq - *sender.isn;
    step.ack = acks(s) ? s.ack - receiver.isn.value_or(0) : 0;
    if (s.syn())
      step.marks |= kSyn;
    if (s.fin())
      step.marks |= kFin;
    if (s.rst())
      step.marks |= kRst;
    if (s.window == 0 && !s.rst() && !s.syn())
      step.marks |= kZeroWindow;
    if (const uint32_t length = space(s); length > 0) {
      if (sender.next && seq_before(s.seq, *sender.next))
        step.marks |= kRetransmission;
      if (!sender.next || seq_before(*sender.next, s.seq + length))
        sender.next = s.seq + length;
    }
    connection_.rows.emplace_back(step);
    ++connection_.segments;
  }

  Connection take() { return std::move(connection_); }

 private:
  Connection connection_;
  Side client_;
  Side server_;
  std::optional<uint32_t> client_syn_;
};

// Which connection a segment is on, whichever way it goes: its two endpoints, ordered.
using PairKey = std::tuple<std::string, uint16_t, std::string, uint16_t>;
PairKey pair_key(const Segment& s) {
  auto a = std::make_pair(s.src_addr.text(), s.src_port);
  auto b = std::make_pair(s.dst_addr.text(), s.dst_port);
  if (b < a)
    std::swap(a, b);
  return {a.first, a.second, b.first, b.second};
}

// A segment a run of data may hold: unmarked, and data or a pure ACK.
bool foldable(const Step& step) {
  const Segment& s = step.segment;
  const bool pure_ack = s.payload == 0 && s.flags == Segment::kAck;
  return step.marks == 0 && (s.payload > 0 || pure_ack);
}

// Folds each run of more than `fold_above` data segments one way (with the
// pure ACKs among them), keeping `keep` rows at either end of it.
std::vector<Row> folded(const std::vector<Row>& rows, const Options& options) {
  if (options.fold_above == std::numeric_limits<std::size_t>::max())
    return rows;
  std::vector<Row> out;
  std::size_t i = 0;
  while (i < rows.size()) {
    const auto* first = std::get_if<Step>(&rows[i]);
    if (first == nullptr || !foldable(*first) || first->segment.payload == 0) {
      out.push_back(rows[i++]);
      continue;
    }
    // The run: from this data segment while segments are foldable and no
    // data goes the other way.
    const Direction direction = first->direction;
    const auto is_data = [&rows](std::size_t k) {
      return std::get<Step>(rows[k]).segment.payload > 0;
    };
    std::size_t end = i;
    std::size_t data = 0;
    for (; end < rows.size(); ++end) {
      const auto* step = std::get_if<Step>(&rows[end]);
      if (step == nullptr || !foldable(*step))
        break;
      if (step->segment.payload > 0) {
        if (step->direction != direction)
          break;
        ++data;
      }
    }
    // What would fold: all but `keep` rows at either end.
    const std::size_t from = i + options.keep;
    const std::size_t to = end - i > 2 * options.keep ? end - options.keep : from;
    std::size_t data_folded = 0;
    for (std::size_t k = from; k < to; ++k) data_folded += is_data(k) ? 1 : 0;
    if (data <= options.fold_above || data_folded == 0) {
      // Too short to fold; so is any run starting later in it, which ends where it does.
      for (; i < end; ++i) out.push_back(rows[i]);
      continue;
    }
    Fold fold;
    fold.direction = direction;
    fold.first = std::get<Step>(rows[from]).time;
    fold.last = std::get<Step>(rows[to - 1]).time;
    for (std::size_t k = from; k < to; ++k) {
      const Step& step = std::get<Step>(rows[k]);
      if (!is_data(k)) {
        ++fold.acks;
        continue;
      }
      if (fold.data_segments++ == 0)
        fold.seq = step.seq;
      fold.bytes += step.segment.payload;
      fold.end = step.end();
    }
    for (std::size_t k = i; k < from; ++k) out.push_back(rows[k]);
    out.emplace_back(fold);
    for (std::size_t k = to; k < end; ++k) out.push_back(rows[k]);
    i = end;
  }
  return out;
}

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// "4.2 kB", "3.1 MB": SI units, one decimal; under 1000, the bytes.
std::string size_text(uint64_t bytes) {
  if (bytes < 1000)
    return plural(bytes, "byte", "bytes");
  static constexpr std::array<std::string_view, 3> kUnits{"kB", "MB", "GB"};
  double value = static_cast<double>(bytes) / 1000;
  std::size_t unit = 0;
  for (; value >= 999.95 && unit + 1 < kUnits.size(); ++unit) value /= 1000;
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string_view direction_text(Direction d) {
  return d == Direction::to_server ? "client > server" : "server > client";
}

std::string marks_suffix(uint8_t marks) {
  const auto words = mark_words(marks);
  if (words.empty())
    return "";
  std::string out = "  (";
  for (std::size_t i = 0; i < words.size(); ++i)
    out += fmt::format("{}{}", i ? ", " : "", words[i]);
  return out + ")";
}

// What follows the time in a step's label; the flags padded to `flags_width`.
std::string step_text(const Step& step, std::size_t flags_width) {
  const Segment& s = step.segment;
  std::string out = fmt::format("{:<{}} seq {}:{}({})", "[" + harness::flag_string(s.flags) + "]",
                                flags_width, step.seq, step.end(), s.payload);
  if (acks(s))
    out += fmt::format(" ack {}", step.ack);
  out += fmt::format(" win {}", s.window);
  if (s.window_scale)
    out += fmt::format(" wscale {}", *s.window_scale);
  return out + marks_suffix(step.marks);
}

std::string fold_text(const Fold& fold) {
  std::string out = fmt::format("... {}, {} (seq {}:{})",
                                plural(fold.data_segments, "data segment", "data segments"),
                                size_text(fold.bytes), fold.seq, fold.end);
  if (fold.acks > 0)
    out += ", " + plural(fold.acks, "ACK", "ACKs");
  return out + fmt::format(", to {} ...", seconds(fold.last));
}

microseconds time_of(const Row& row) {
  if (const auto* step = std::get_if<Step>(&row))
    return step->time;
  return std::get<Fold>(row).first;
}

Direction direction_of(const Row& row) {
  if (const auto* step = std::get_if<Step>(&row))
    return step->direction;
  return std::get<Fold>(row).direction;
}

std::string header(const Connection& c) {
  return fmt::format("client {}, server {}: {} from {} s", c.client.text(), c.server.text(),
                     plural(c.segments, "segment", "segments"), seconds(c.start));
}

}  // namespace

std::string Endpoint::text() const {
  if (address.find(':') != std::string::npos)
    return fmt::format("[{}]:{}", address, port);
  return fmt::format("{}:{}", address, port);
}

std::vector<Connection> connections(const std::vector<Segment>& segments, uint16_t server_port,
                                    const Options& options) {
  std::vector<Reader> readers;
  std::map<PairKey, std::size_t> current;  // each pair of endpoints' latest connection
  for (const Segment& s : segments) {
    const PairKey key = pair_key(s);
    auto found = current.find(key);
    if (found == current.end() || readers[found->second].starts_another(s)) {
      readers.emplace_back(s, server_port);
      current[key] = readers.size() - 1;
      found = current.find(key);
    }
    readers[found->second].add(s);
  }
  std::vector<Connection> out;
  out.reserve(readers.size());
  for (Reader& reader : readers) {
    out.push_back(reader.take());
    out.back().rows = folded(out.back().rows, options);
  }
  return out;
}

std::vector<std::string_view> mark_words(uint8_t marks) {
  static constexpr std::array<std::pair<Mark, std::string_view>, 5> kWords{{
      {kSyn, "SYN"},
      {kFin, "FIN"},
      {kRst, "RST"},
      {kRetransmission, "retransmission"},
      {kZeroWindow, "zero window"},
  }};
  std::vector<std::string_view> words;
  for (const auto& [mark, word] : kWords) {
    if ((marks & mark) != 0)
      words.push_back(word);
  }
  return words;
}

std::string seconds(microseconds time) {
  const auto us = time.count();
  const auto magnitude = static_cast<uint64_t>(us < 0 ? -us : us);
  return fmt::format("{}{}.{:06}", us < 0 ? "-" : "", magnitude / 1'000'000, magnitude % 1'000'000);
}

std::string label(const Step& step) { return seconds(step.time) + " " + step_text(step, 0); }

std::string label(const Fold& fold) { return seconds(fold.first) + " " + fold_text(fold); }

std::string transcript(const std::vector<Connection>& connections) {
  // Flags in a column wide enough for "[S.E]" and "[FP.]"; "[none]" and
  // rarer combinations push the rest of their line along.
  constexpr std::size_t kFlagsWidth = 5;
  std::string out;
  for (const Connection& c : connections) {
    out += "# " + header(c) + "\n";
    for (const Row& row : c.rows) {
      out += fmt::format("{} {}  ", seconds(time_of(row)), direction_text(direction_of(row)));
      if (const auto* step = std::get_if<Step>(&row))
        out += step_text(*step, kFlagsWidth);
      else
        out += fold_text(std::get<Fold>(row));
      out += "\n";
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The diagram

namespace {

// Geometry, in pixels: lifelines at kClientX and kServerX; each row takes
// kRowHeight, its label's baseline kLabelDrop below the row's top and its
// arrow falling kSlope from kArrowDrop to the other lifeline.
constexpr int kWidth = 800;
constexpr int kClientX = 110;
constexpr int kServerX = 690;
constexpr int kMiddleX = (kClientX + kServerX) / 2;
constexpr int kHeaderHeight = 44;
constexpr int kRowHeight = 30;
constexpr int kLabelDrop = 11;
constexpr int kArrowDrop = 15;
constexpr int kSlope = 10;
constexpr int kHeadLength = 9;
constexpr int kHeadHalfWidth = 4;
constexpr int kGap = 24;  // between connections
constexpr int kLegendHeight = 30;

// The colours: RST in the report's failure colour (td.fail in
// suite/report/html.cpp); each mark has its word in the label as well.
constexpr std::string_view kInk = "#222";
constexpr std::string_view kRstColour = "#f99";
constexpr std::string_view kRstTextColour = "#c00";  // #f99 is too pale for a line of text
constexpr std::string_view kRetransmissionColour = "#d70";
constexpr std::string_view kZeroWindowColour = "#93c";
constexpr std::string_view kFinColour = "#26c";
constexpr std::string_view kSynColour = "#393";
constexpr std::string_view kFoldColour = "#888";

// The one colour of a step: its most alarming mark's.
std::string_view colour_of(uint8_t marks) {
  if ((marks & kRst) != 0)
    return kRstColour;
  if ((marks & kRetransmission) != 0)
    return kRetransmissionColour;
  if ((marks & kZeroWindow) != 0)
    return kZeroWindowColour;
  if ((marks & kFin) != 0)
    return kFinColour;
  if ((marks & kSyn) != 0)
    return kSynColour;
  return kInk;
}

struct Arrow {
  int top = 0;  // the row's top
  Direction direction = Direction::to_server;
  std::string_view colour;       // the line's
  std::string_view text_colour;  // the label's: the RST colour is pale for text
  int width = 1;
  bool dashed = false;
  std::string label;
  std::string title;  // the transcript's line, shown on hover
};

std::string draw(const Arrow& a) {
  const int from = a.direction == Direction::to_server ? kClientX : kServerX;
  const int to = a.direction == Direction::to_server ? kServerX : kClientX;
  const int back = a.direction == Direction::to_server ? -kHeadLength : kHeadLength;
  const int y1 = a.top + kArrowDrop;
  const int y2 = y1 + kSlope;
  std::string out = fmt::format("<g><title>{}</title>\n", xml_escaped(a.title));
  out += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle" fill="{}">{}</text>)"
                     "\n",
                     kMiddleX, a.top + kLabelDrop, a.text_colour, xml_escaped(a.label));
  out += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="{}"{}/>)"
                     "\n",
                     from, y1, to + back, y2, a.colour, a.width,
                     a.dashed ? R"( stroke-dasharray="6 4")" : "");
  out +=
      fmt::format(R"(<polygon points="{},{} {},{} {},{}" fill="{}"/>)"
                  "\n",
                  to, y2, to + back, y2 - kHeadHalfWidth, to + back, y2 + kHeadHalfWidth, a.colour);
  return out + "</g>\n";
}

std::string draw_connection(const Connection& c, int top) {
  const int bottom = top + kHeaderHeight + static_cast<int>(c.rows.size()) * kRowHeight;
  std::string out = "<g>\n";
  out += fmt::format(R"(<text x="{}" y="{}" font-weight="bold">{}</text>)"
                     "\n",
                     10, top + 14, xml_escaped(header(c)));
  out += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">client {}</text>)"
                     "\n",
                     kClientX, top + 32, xml_escaped(c.client.text()));
  out += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">server {}</text>)"
                     "\n",
                     kServerX, top + 32, xml_escaped(c.server.text()));
  for (const int x : {kClientX, kServerX}) {
    out += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>)"
                       "\n",
                       x, top + 38, x, bottom);
  }
  int row_top = top + kHeaderHeight;
  for (const Row& row : c.rows) {
    Arrow arrow;
    arrow.top = row_top;
    arrow.direction = direction_of(row);
    const std::string line_start =
        fmt::format("{} {}  ", seconds(time_of(row)), direction_text(arrow.direction));
    if (const auto* step = std::get_if<Step>(&row)) {
      arrow.colour = colour_of(step->marks);
      arrow.width = step->has(kRst) ? 3 : (step->marks & ~kSyn) != 0 ? 2 : 1;
      arrow.label = label(*step);
      arrow.title = line_start + step_text(*step, 0);
    } else {
      const Fold& fold = std::get<Fold>(row);
      arrow.colour = kFoldColour;
      arrow.dashed = true;
      arrow.label = label(fold);
      arrow.title = line_start + fold_text(fold);
    }
    arrow.text_colour = arrow.colour == kRstColour ? kRstTextColour : arrow.colour;
    out += draw(arrow);
    row_top += kRowHeight;
  }
  return out + "</g>\n";
}

std::string legend(int top) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kEntries{{
      {"RST", kRstColour},
      {"retransmission", kRetransmissionColour},
      {"zero window", kZeroWindowColour},
      {"FIN", kFinColour},
      {"SYN", kSynColour},
      {"... folded", kFoldColour},
  }};
  std::string out = "<g>\n";
  int x = 10;
  for (const auto& [word, colour] : kEntries) {
    out += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="3"{}/>)"
                       "\n",
                       x, top + 15, x + 20, top + 15, colour,
                       colour == kFoldColour ? R"( stroke-dasharray="6 4")" : "");
    out += fmt::format(R"(<text x="{}" y="{}">{}</text>)"
                       "\n",
                       x + 25, top + 19, xml_escaped(word));
    x += 35 + static_cast<int>(word.size()) * 7;
  }
  return out + "</g>\n";
}

}  // namespace

std::string svg(const std::vector<Connection>& connections) {
  int height = kLegendHeight;
  for (const Connection& c : connections)
    height += kHeaderHeight + static_cast<int>(c.rows.size()) * kRowHeight + kGap;
  std::string body;
  int top = 0;
  for (const Connection& c : connections) {
    body += draw_connection(c, top);
    top += kHeaderHeight + static_cast<int>(c.rows.size()) * kRowHeight + kGap;
  }
  body += legend(top);
  std::string title = connections.empty()
                          ? std::string("csd ladder diagram: no TCP segments")
                          : fmt::format("csd ladder diagram: {}", header(connections.front()));
  if (connections.size() > 1)
    title += fmt::format(" and {} more connection(s)", connections.size() - 1);
  return fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" )"
      R"(font-family="monospace" font-size="11" fill="{2}" role="img">)"
      "\n<title>{3}</title>\n"
      R"(<rect width="{0}" height="{1}" fill="#fff"/>)"
      "\n{4}</svg>\n",
      kWidth, height, kInk, xml_escaped(title), body);
}

}  // namespace csd::wire
