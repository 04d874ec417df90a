// csd-netdelay QUEUE DELAY_MS: delay without netem. Verify behavior for the
// sequence: an nft rule queues each packet to NFQUEUE QUEUE -> this program
// holds its verdict DELAY_MS -> accepts it, in arrival order. Started by
// csd-suite --network 'delay 20ms' in the run's namespace, under csd-guard.
#include <arpa/inet.h>  // ntohl
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <string_view>

namespace {

using Clock = std::chrono::steady_clock;

// NF_ACCEPT of <linux/netfilter.h>, whose struct in_addr clashes with the
// <netinet/in.h> that libnetfilter_queue's header pulls in.
constexpr std::uint32_t kAccept = 1;

struct Held {
  std::uint32_t packet_id;
  Clock::time_point due;
};

struct Delayer {
  std::chrono::milliseconds delay{};
  std::deque<Held> held;  // every packet has the same delay: FIFO is due order
};

int on_packet(nfq_q_handle* /*queue*/, nfgenmsg* /*message*/, nfq_data* packet, void* data) {
  auto& delayer = *static_cast<Delayer*>(data);
  const nfqnl_msg_packet_hdr* header = nfq_get_msg_packet_hdr(packet);
  if (header != nullptr)
    delayer.held.push_back({ntohl(header->packet_id), Clock::now() + delayer.delay});
  return 0;
}

bool parse_number(std::string_view text, long& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc{} && end == text.data() + text.size();
}

int fail(const char* what) {
  std::fprintf(stderr, "csd-netdelay: %s: %s\n", what, std::strerror(errno));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  long queue_number = 0;
  long delay_ms = 0;
  if (argc != 3 || !parse_number(argv[1], queue_number) || !parse_number(argv[2], delay_ms) ||
      queue_number < 0 || queue_number > 65535 || delay_ms < 1) {
    std::fprintf(stderr, "usage: csd-netdelay QUEUE DELAY_MS (an NFQUEUE number, ms >= 1)\n");
    return 2;
  }
  Delayer delayer;
  delayer.delay = std::chrono::milliseconds(delay_ms);

  // SIGTERM and SIGINT end the loop through a signalfd (no handler).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  const int signal_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
  if (signal_fd < 0)
    return fail("signalfd");

  nfq_handle* handle = nfq_open();
  if (handle == nullptr)
    return fail("nfq_open");
  nfq_q_handle* queue =
      nfq_create_queue(handle, static_cast<std::uint16_t>(queue_number), &on_packet, &delayer);
  if (queue == nullptr)
    return fail("nfq_create_queue");
  // The verdict needs only the packet's id: no payload copied to us.
  if (nfq_set_mode(queue, NFQNL_COPY_META, 0) < 0)
    return fail("nfq_set_mode");
  // Held packets wait in the kernel's queue: room for a burst of 1,000
  // connections' worth of them.
  if (nfq_set_queue_maxlen(queue, 1U << 16U) < 0)
    return fail("nfq_set_queue_maxlen");
  const int queue_fd = nfq_fd(handle);
  std::printf("csd-netdelay: queue %ld, delay %ld ms: ready\n", queue_number, delay_ms);
  std::fflush(stdout);

  alignas(nlmsghdr) char buffer[1U << 16U];
  while (true) {
    int timeout_ms = -1;
    if (!delayer.held.empty()) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(delayer.held.front().due - Clock::now());
      timeout_ms = static_cast<int>(std::max<long>(0, left.count()));
    }
    pollfd fds[2] = {{queue_fd, POLLIN, 0}, {signal_fd, POLLIN, 0}};
    if (poll(fds, 2, timeout_ms) < 0 && errno != EINTR)
      return fail("poll");
    if ((fds[1].revents & POLLIN) != 0)
      break;
    if ((fds[0].revents & POLLIN) != 0) {
      const ssize_t n = recv(queue_fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0)
        nfq_handle_packet(handle, buffer, static_cast<int>(n));
      else if (n < 0 && errno != EAGAIN && errno != ENOBUFS)
        return fail("recv");
    }
    const auto now = Clock::now();
    while (!delayer.held.empty() && delayer.held.front().due <= now) {
      nfq_set_verdict(queue, delayer.held.front().packet_id, kAccept, 0, nullptr);
      delayer.held.pop_front();
    }
  }
  nfq_destroy_queue(queue);
  nfq_close(handle);
  return 0;
}
