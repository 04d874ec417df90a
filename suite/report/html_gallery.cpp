// The demo gallery of report.html (html_gallery.hpp).
#include "html_gallery.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "html_ladder.hpp"
#include "html_parts.hpp"

namespace csd::report::html {

namespace {

struct Family {
  std::string_view name;   // the gtest family: "Rst"
  std::string_view title;  // what it shows
  std::string_view watch;  // one paragraph: what to watch (HTML)
};

// In the order impl/README.md tells them; a family not listed here (a new
// one) is shown under its own name, without a paragraph.
constexpr std::array kFamilies{
    Family{"Rst", "RST vs FIN: csd-rstserver, with and without --graceful",
           "csd-rstserver reads one line, then closes with <code>SO_LINGER {1, 0}</code> (UNP "
           "7.5): <code>close()</code> becomes an abort, the kernel throws away whatever is "
           "unsent and sends an RST instead of a FIN, and the client's <code>read()</code> fails "
           "with <code>ECONNRESET</code> instead of returning 0. With <code>--graceful</code> it "
           "closes normally. What to watch: the server's last arrow, a thick red "
           "<code>[R.]</code> where the graceful close sends a blue <code>[F.]</code> that the "
           "client answers with its own FIN; after the RST nothing more crosses the wire, and no "
           "TIME_WAIT is left on the server's side."},
    Family{"Sigpipe", "SIGPIPE: its three dispositions, and UNP 5.13",
           "csd-sigpipe writes one byte twice to a connection csd-rstserver has closed. After an "
           "RST the first <code>write()</code> only collects the error the RST left "
           "(<code>ECONNRESET</code>, no signal); the second is a write on a dead connection: "
           "<code>EPIPE</code>, and SIGPIPE. <code>--sigpipe default</code> lets the signal kill "
           "the program (status 141); <code>ignore</code> (<code>SIG_IGN</code>) and "
           "<code>nosignal</code> (<code>send()</code> with <code>MSG_NOSIGNAL</code>) turn it "
           "into a plain <code>EPIPE</code>, exit status 32. After a FIN it is UNP 5.13: a FIN "
           "says only &ldquo;no more data from me&rdquo;, so the first write goes out and draws "
           "the RST. What to watch: after an RST the client sends nothing more; after a FIN "
           "exactly one byte (<code>seq 7:8(1)</code>), then the server's RST, and the second "
           "write never reaches the wire; the output says which write got which error."},
    Family{"SignalRace", "The select/signal race, and its three fixes",
           "csd-selsigrace sets a flag in its SIGUSR1 handler and looks at it when "
           "<code>select()</code> fails with <code>EINTR</code>: a signal that comes just before "
           "<code>select()</code> sleeps is handled, and <code>select()</code> sleeps anyway. The "
           "tests hold that window open. What to watch: the naive loop loses the signal (in "
           "/proc: asleep in <code>pselect6</code>, the signal caught, none pending), while the "
           "self-pipe, <code>pselect()</code> and <code>signalfd</code> versions wake for it and "
           "sleep again between signals. Nothing crosses the wire: the verdicts come from /proc."},
    Family{"Sendfile", "sendfile's partial writes",
           "csd-sendfile serves one file to each client with <code>sendfile()</code>, "
           "<code>read()</code>/<code>write()</code> or <code>splice()</code>. Each may move "
           "fewer bytes than asked, and with <code>--nonblocking</code>, a 4 KiB send buffer and "
           "a reader with a 4 KiB receive buffer they do so all the time, or fail with "
           "<code>EAGAIN</code>: the loop goes on from where the kernel stopped once "
           "<code>poll()</code> says there is room. What to watch: the client's zero windows "
           "(purple) and the window updates after them, each a wait of the server's in "
           "<code>poll()</code>, with folded runs of data between; and the program's tally of "
           "calls, short calls and waits, which the suite does not believe but checks against "
           "the server's context switches and every byte at its offset."},
    Family{"Cork", "TCP_CORK on vs TCP_NODELAY",
           "csd-cork sends a 200-byte header with <code>write()</code> and a 4000-byte body with "
           "<code>sendfile()</code>. <code>--cork on</code> sets <code>TCP_CORK</code> around "
           "both: the kernel holds the header until the body joins it, and one segment of 4200 "
           "bytes leaves (<code>seq 1:4201(4200)</code>). <code>--cork off</code> sets "
           "<code>TCP_NODELAY</code>: the header leaves at once, alone (<code>seq "
           "1:201(200)</code>), the body after it. What to watch: how many data arrows the "
           "server sends, and their lengths. On loopback Nagle alone sends the header alone "
           "too, since nothing is unacknowledged when it is written: only the cork joins them."},
};

std::string_view family_of(const Outcome& test) {
  const std::string_view check = test.check;
  return check.substr(0, std::min(check.find('.'), check.size()));
}

std::string figure(const Outcome& test, const char* name) {
  const auto found = test.figures.find(name);
  return found == test.figures.end() ? std::string() : found->second;
}

// "✓ Rst.ServerClosesWithRstNotFin 0.3s", the mark linking to the evidence of a failure.
std::string verdict_line(const Outcome& test, std::size_t index) {
  const std::string mark = test.verdict == Outcome::Verdict::pass
                               ? std::string(verdict_mark(test.verdict))
                               : fmt::format(R"(<a href="#t{}" title="{}">{}</a>)", index,
                                             xml_escaped(test.reason), verdict_mark(test.verdict));
  return fmt::format(
      R"(<span class="verdict {}">{}</span> <code>{}</code> <span class="time">{}</span>)",
      to_string(test.verdict), mark, xml_escaped(test.check), time_text(test.seconds));
}

// The last line of a program's output: a tally, in a table's cell.
std::string last_line(std::string_view output) {
  while (output.ends_with('\n')) output.remove_suffix(1);
  const auto newline = output.rfind('\n');
  return std::string(newline == std::string_view::npos ? output : output.substr(newline + 1));
}

void write_family(const Summary& summary, std::string_view name,
                  const std::vector<std::size_t>& tests, std::ostream& out) {
  const auto known = std::ranges::find(kFamilies, name, &Family::name);
  out << fmt::format("<section class=\"demo-family\" id=\"demo-{}\">\n<h3>{}</h3>\n",
                     xml_escaped(name),
                     known == kFamilies.end() ? xml_escaped(name) : std::string(known->title));
  if (known != kFamilies.end())
    out << "<p class=\"watch\">" << known->watch << "</p>\n";
  // The tests with a capture, each drawn; the others in a table, with the
  // last line of the program's output where it has one.
  std::vector<std::size_t> listed;
  for (const std::size_t i : tests) {
    const Outcome& test = summary.tests[i];
    const std::string story = wire_story(test);
    if (story.empty()) {
      listed.push_back(i);
      continue;
    }
    out << fmt::format("<div class=\"demo\">\n<h4>{}</h4>\n", verdict_line(test, i)) << story;
    if (const std::string output = figure(test, "demo_output"); !output.empty())
      out << "<p>the program's output:</p>\n<pre class=\"output\">" << xml_escaped(output)
          << "</pre>\n";
    out << "</div>\n";
  }
  if (!listed.empty()) {
    out << "<table class=\"demo-tests\">\n";
    for (const std::size_t i : listed) {
      const Outcome& test = summary.tests[i];
      out << fmt::format("<tr><td class=\"check\">{}</td><td><code>{}</code></td></tr>\n",
                         verdict_line(test, i),
                         xml_escaped(last_line(figure(test, "demo_output"))));
    }
    out << "</table>\n";
  }
  out << "</section>\n";
}

}  // namespace

void write_demo_gallery(const Summary& summary, std::ostream& out) {
  // The families in the order they first ran, each with its tests in order.
  std::vector<std::pair<std::string, std::vector<std::size_t>>> families;
  for (std::size_t i = 0; i < summary.tests.size(); ++i) {
    const Outcome& test = summary.tests[i];
    if (test.implementation != kDemos)
      continue;
    const std::string name(family_of(test));
    auto found = std::ranges::find_if(families, [&](const auto& f) { return f.first == name; });
    if (found == families.end()) {
      families.emplace_back(name, std::vector<std::size_t>{});
      found = std::prev(families.end());
    }
    found->second.push_back(i);
  }
  if (families.empty())
    return;
  out << "<section id=\"demo-gallery\">\n<h2 id=\"demos\">The demos: a gallery</h2>\n"
      << "<p>The programs of impl/demos, the sharp edges of sockets the seed teaches, as the "
         "demo tests drove them: for each, what to watch, the connection as it crossed the wire "
         "(client on the left, server on the right, time running down) and what the program "
         "printed.</p>\n";
  for (const auto& [name, tests] : families) write_family(summary, name, tests, out);
  out << "</section>\n";
}

}  // namespace csd::report::html
