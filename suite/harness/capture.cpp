#include "capture.hpp"

#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "timeouts.hpp"

namespace csd::harness {

namespace {

using Bytes = std::span<const uint8_t>;

uint16_t be16(Bytes b, std::size_t at) { return static_cast<uint16_t>((b[at] << 8) | b[at + 1]); }
uint32_t be32(Bytes b, std::size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) |
         uint32_t{b[at + 3]};
}

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86DD;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint8_t kProtoTcp = 6;

// The network-layer packet inside a frame, and its EtherType; nullopt for
// what carries no IP.
struct Network {
  uint16_t ethertype = 0;
  Bytes packet;
};

// The address family of DLT_NULL/DLT_LOOP, as an EtherType. AF_INET6 has a
// different value on each BSD (24, 28, 30) and 10 on Linux: any of them.
uint16_t ethertype_of_family(uint32_t family) {
  if (family == AF_INET)
    return kEtherIpv4;
  if (family == 10 || family == 24 || family == 28 || family == 30)
    return kEtherIpv6;
  return 0;
}

std::optional<Network> network_layer(int linktype, Bytes frame) {
  switch (linktype) {
    case DLT_EN10MB: {
      if (frame.size() < 14)
        return std::nullopt;
      std::size_t header = 14;
      uint16_t type = be16(frame, 12);
      if (type == kEtherVlan && frame.size() >= 18) {
        type = be16(frame, 16);
        header = 18;
      }
      return Network{type, frame.subspan(header)};
    }
    case DLT_NULL:
    case DLT_LOOP: {
      if (frame.size() < 4)
        return std::nullopt;
      // DLT_LOOP: network byte order. DLT_NULL: the byte order of the host
      // that wrote the file, which may not be this one; as tcpdump does, a
      // value with its high half set is taken to be the other order.
      uint32_t family = 0;
      std::memcpy(&family, frame.data(), 4);
      if (linktype == DLT_LOOP)
        family = ntohl(family);
      else if ((family & 0xFFFF0000U) != 0)
        family = __builtin_bswap32(family);
      return Network{ethertype_of_family(family), frame.subspan(4)};
    }
    case DLT_LINUX_SLL:  // 16-byte "cooked" header, protocol last
      if (frame.size() < 16)
        return std::nullopt;
      return Network{be16(frame, 14), frame.subspan(16)};
    case DLT_LINUX_SLL2:  // 20-byte cooked header, protocol first
      if (frame.size() < 20)
        return std::nullopt;
      return Network{be16(frame, 0), frame.subspan(20)};
    case DLT_RAW:
#ifdef DLT_IPV4
    case DLT_IPV4:
    case DLT_IPV6:
#endif
      if (frame.empty())
        return std::nullopt;
      return Network{static_cast<uint16_t>((frame[0] >> 4) == 6 ? kEtherIpv6 : kEtherIpv4), frame};
    default:
      return std::nullopt;
  }
}

// The TCP header and the payload length the IP header declares (the frame
// may be cut short by the snapshot length; the lengths are not), and the
// addresses it travels between.
struct Transport {
  Bytes tcp;
  std::size_t tcp_and_payload = 0;
  IpAddress src;
  IpAddress dst;
};

IpAddress address_at(Bytes ip, std::size_t at, bool v6) {
  IpAddress address;
  address.v6 = v6;
  std::copy_n(ip.begin() + static_cast<std::ptrdiff_t>(at), v6 ? 16 : 4, address.bytes.begin());
  return address;
}

std::optional<Transport> transport_layer(const Network& net) {
  const Bytes ip = net.packet;
  if (net.ethertype == kEtherIpv4) {
    if (ip.size() < 20 || (ip[0] >> 4) != 4 || ip[9] != kProtoTcp)
      return std::nullopt;
    const std::size_t header = std::size_t{ip[0] & 0x0Fu} * 4;
    const std::size_t total = be16(ip, 2);
    if (header < 20 || ip.size() < header || total < header)
      return std::nullopt;
    return Transport{ip.subspan(header), total - header, address_at(ip, 12, false),
                     address_at(ip, 16, false)};
  }
  if (net.ethertype == kEtherIpv6) {
    // Extension headers are not followed: the suite's traffic has none.
    if (ip.size() < 40 || (ip[0] >> 4) != 6 || ip[6] != kProtoTcp)
      return std::nullopt;
    return Transport{ip.subspan(40), be16(ip, 4), address_at(ip, 8, true),
                     address_at(ip, 24, true)};
  }
  return std::nullopt;
}

// The wscale option among the TCP options, as far as the snapshot holds them.
std::optional<uint8_t> window_scale(Bytes options) {
  constexpr uint8_t kEnd = 0;
  constexpr uint8_t kNop = 1;
  constexpr uint8_t kWindowScale = 3;
  for (std::size_t at = 0; at < options.size();) {
    const uint8_t kind = options[at];
    if (kind == kEnd)
      break;
    if (kind == kNop) {
      ++at;
      continue;
    }
    if (at + 1 >= options.size() || options[at + 1] < 2)
      break;  // cut short, or a length that would not move on
    const std::size_t length = options[at + 1];
    if (kind == kWindowScale && length == 3 && at + 2 < options.size())
      return options[at + 2];
    at += length;
  }
  return std::nullopt;
}

}  // namespace

std::string IpAddress::text() const {
  if (bytes == std::array<uint8_t, 16>{} && !v6)
    return "";
  std::array<char, INET6_ADDRSTRLEN> out{};
  if (::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), out.data(), out.size()) == nullptr)
    return "";
  return out.data();
}

std::optional<Segment> decode_frame(int linktype, std::span<const uint8_t> frame) {
  const auto net = network_layer(linktype, frame);
  if (!net)
    return std::nullopt;
  const auto transport = transport_layer(*net);
  if (!transport || transport->tcp.size() < 20)
    return std::nullopt;
  const Bytes tcp = transport->tcp;
  const std::size_t header = std::size_t{static_cast<uint8_t>(tcp[12] >> 4)} * 4;
  if (header < 20 || transport->tcp_and_payload < header)
    return std::nullopt;
  Segment s;
  s.src_port = be16(tcp, 0);
  s.dst_port = be16(tcp, 2);
  s.seq = be32(tcp, 4);
  s.ack = be32(tcp, 8);
  s.flags = tcp[13];
  s.payload = static_cast<uint32_t>(transport->tcp_and_payload - header);
  s.window = be16(tcp, 14);
  s.window_scale = window_scale(tcp.subspan(20, std::min(header, tcp.size()) - 20));
  s.src_addr = transport->src;
  s.dst_addr = transport->dst;
  return s;
}

std::string flag_string(uint8_t flags) {
  // tcpdump's table (print-tcp.c), in its order: "S.E" for a SYN-ACK that
  // agrees to ECN, "FP." for a FIN with the last data.
  static constexpr std::array<std::pair<uint8_t, char>, 8> kNotation{{{Segment::kFin, 'F'},
                                                                      {Segment::kSyn, 'S'},
                                                                      {Segment::kRst, 'R'},
                                                                      {Segment::kPsh, 'P'},
                                                                      {Segment::kAck, '.'},
                                                                      {0x20, 'U'},
                                                                      {0x40, 'E'},
                                                                      {0x80, 'W'}}};
  std::string out;
  for (const auto& [bit, letter] : kNotation) {
    if ((flags & bit) != 0)
      out += letter;
  }
  return out.empty() ? "none" : out;
}

std::string describe(const Segment& s, uint16_t server_port) {
  const double seconds = static_cast<double>(s.time.count()) / 1e6;
  std::string direction;
  if (server_port != 0)
    direction = s.dst_port == server_port ? "  client>server" : "  server>client";
  std::string seq =
      s.payload > 0 ? fmt::format("{}:{}", s.seq, s.seq + s.payload) : fmt::format("{}", s.seq);
  std::string ack = (s.flags & Segment::kAck) != 0 ? fmt::format(" ack {}", s.ack) : "";
  return fmt::format("{:.6f}{}  {} > {}  [{}]  seq {}{} len {}", seconds, direction, s.src_port,
                     s.dst_port, flag_string(s.flags), seq, ack, s.payload);
}

namespace {

std::chrono::microseconds since(const timeval& start, const timeval& t) {
  return std::chrono::seconds{t.tv_sec - start.tv_sec} +
         std::chrono::microseconds{t.tv_usec - start.tv_usec};
}

}  // namespace

std::vector<Segment> read_pcap_file(const std::filesystem::path& file) {
  std::array<char, PCAP_ERRBUF_SIZE> error{};
  std::unique_ptr<pcap, void (*)(pcap*)> handle(pcap_open_offline(file.c_str(), error.data()),
                                                pcap_close);
  if (!handle)
    throw CaptureError(error.data());  // libpcap's message names the file
  const int linktype = pcap_datalink(handle.get());
  std::vector<Segment> segments;
  std::optional<timeval> first;
  pcap_pkthdr* header = nullptr;
  const u_char* bytes = nullptr;
  int status = 0;
  while ((status = pcap_next_ex(handle.get(), &header, &bytes)) == 1) {
    if (!first)
      first = header->ts;
    if (auto s = decode_frame(linktype, {bytes, header->caplen})) {
      s->time = since(*first, header->ts);
      segments.push_back(*s);
    }
  }
  if (status == PCAP_ERROR)
    throw CaptureError(fmt::format("{}: {}", file.string(), pcap_geterr(handle.get())));
  return segments;
}

// ---------------------------------------------------------------------------
// Capture

void Capture::Closer::operator()(pcap* handle) const { pcap_close(handle); }

Capture::Capture(uint16_t port, const std::string& device) : port_(port) {
  std::array<char, PCAP_ERRBUF_SIZE> error{};
  handle_.reset(pcap_create(device.c_str(), error.data()));
  if (!handle_)
    throw CaptureUnavailable(fmt::format("pcap_create({}): {}", device, error.data()));
  // Headers are all the checks read; 256 bytes keep a little payload for a
  // person reading the evidence, and the memory of a 256 MiB transfer small.
  snaplen_ = 256;
  pcap_set_snaplen(handle_.get(), snaplen_);
  pcap_set_immediate_mode(handle_.get(), 1);  // each packet as it comes, not per buffer block
  pcap_set_buffer_size(handle_.get(), 8 << 20);
  const int activated = pcap_activate(handle_.get());
  // libpcap's words for the status, and its detail when it has more to say.
  const auto why = [this](int status) {
    const std::string summary = pcap_statustostr(status);
    const std::string detail = pcap_geterr(handle_.get());
    return detail.empty() || detail == summary ? summary : fmt::format("{} ({})", summary, detail);
  };
  if (activated == PCAP_ERROR_PERM_DENIED || activated == PCAP_ERROR_IFACE_NOT_UP ||
      activated == PCAP_ERROR_NO_SUCH_DEVICE) {
    throw CaptureUnavailable(fmt::format("cannot capture on {}: {}", device, why(activated)));
  }
  if (activated < 0)
    throw CaptureError(fmt::format("pcap_activate({}): {}", device, why(activated)));
  linktype_ = pcap_datalink(handle_.get());
  bpf_program program{};
  const std::string filter = fmt::format("tcp port {}", port);
  if (pcap_compile(handle_.get(), &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0 ||
      pcap_setfilter(handle_.get(), &program) != 0) {
    pcap_freecode(&program);
    throw CaptureError(fmt::format("filter '{}': {}", filter, pcap_geterr(handle_.get())));
  }
  pcap_freecode(&program);
  if (pcap_setnonblock(handle_.get(), 1, error.data()) != 0)
    throw CaptureError(fmt::format("pcap_setnonblock: {}", error.data()));
  selectable_fd_ = pcap_get_selectable_fd(handle_.get());
  if (selectable_fd_ < 0)
    throw CaptureError(fmt::format("{}: no selectable descriptor", device));
}

Capture::~Capture() = default;
Capture::Capture(Capture&&) noexcept = default;
Capture& Capture::operator=(Capture&&) noexcept = default;

void Capture::on_packet(unsigned char* self, const pcap_pkthdr* header,
                        const unsigned char* bytes) {
  auto& capture = *reinterpret_cast<Capture*>(self);
  if (!capture.first_)
    capture.first_ = header->ts;
  capture.packets_.push_back({header->ts, header->len, {bytes, bytes + header->caplen}});
  if (auto s = decode_frame(capture.linktype_, {bytes, header->caplen})) {
    s->time = since(*capture.first_, header->ts);
    capture.segments_.push_back(*s);
  }
}

void Capture::drain() {
  // Non-blocking: returns 0 once nothing more is waiting.
  while (pcap_dispatch(handle_.get(), -1, &Capture::on_packet,
                       reinterpret_cast<unsigned char*>(this)) > 0) {
  }
}

const std::vector<Segment>& Capture::segments() {
  drain();
  return segments_;
}

Capture::Awaited Capture::wait_for(std::string_view what, const Predicate& matches,
                                   Clock::duration timeout) {
  const auto deadline = deadline_in(timeout);
  std::size_t checked = 0;
  for (;;) {
    drain();
    for (; checked < segments_.size(); ++checked) {
      if (matches(segments_[checked]))
        return {segments_[checked], {}};
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      break;
    pollfd readable{selectable_fd_, POLLIN, 0};
    ::poll(&readable, 1, static_cast<int>(left.count()) + 1);
  }
  return {std::nullopt, fmt::format("no {} on port {} within {} ms; {}", what, port_,
                                    scaled_ms(timeout).count(), listing())};
}

std::string Capture::listing() {
  drain();
  std::string out = fmt::format("{} segment(s) seen on port {}:", segments_.size(), port_);
  for (const auto& s : segments_) out += "\n  " + describe(s);
  return out;
}

void Capture::save(const std::filesystem::path& file, std::size_t max_packets) {
  drain();
  std::unique_ptr<pcap, void (*)(pcap*)> dead(pcap_open_dead(linktype_, snaplen_), pcap_close);
  if (!dead)
    throw CaptureError("pcap_open_dead failed");
  pcap_dumper_t* dumper = pcap_dump_open(dead.get(), file.c_str());
  if (dumper == nullptr)
    throw CaptureError(pcap_geterr(dead.get()));  // libpcap's message names the file
  const std::size_t count = std::min(max_packets, packets_.size());
  for (const auto& p : std::span(packets_).first(count)) {
    pcap_pkthdr header{};
    header.ts = p.ts;
    header.caplen = static_cast<bpf_u_int32>(p.bytes.size());
    header.len = p.wire_length;
    pcap_dump(reinterpret_cast<u_char*>(dumper), &header, p.bytes.data());
  }
  pcap_dump_close(dumper);
}

}  // namespace csd::harness
