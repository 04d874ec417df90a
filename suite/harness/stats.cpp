#include "stats.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <regex>
#include <sstream>

namespace csd::harness {

namespace {

constexpr int kMaxIterations = 1000;
constexpr double kEpsilon = 1e-15;
constexpr double kTiny = 1e-300;  // keeps Lentz's method away from division by zero

// P(a, x) by its power series; converges fast for x < a + 1.
double lower_gamma_series(double a, double x) {
  double term = 1.0 / a;
  double sum = term;
  for (int n = 1; n < kMaxIterations; ++n) {
    term *= x / (a + n);
    sum += term;
    if (std::abs(term) < std::abs(sum) * kEpsilon)
      break;
  }
  return sum * std::exp(-x + a * std::log(x) - std::lgamma(a));
}

// Q(a, x) by its continued fraction (modified Lentz); converges fast for x >= a + 1.
double upper_gamma_continued_fraction(double a, double x) {
  double b = x + 1.0 - a;
  double c = 1.0 / kTiny;
  double d = 1.0 / b;
  double h = d;
  for (int i = 1; i < kMaxIterations; ++i) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::abs(d) < kTiny)
      d = kTiny;
    c = b + an / c;
    if (std::abs(c) < kTiny)
      c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1.0) < kEpsilon)
      break;
  }
  return std::exp(-x + a * std::log(x) - std::lgamma(a)) * h;
}

// Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a).
double regularized_upper_gamma(double a, double x) {
  if (x <= 0)
    return 1.0;
  if (x < a + 1.0)
    return 1.0 - lower_gamma_series(a, x);
  return upper_gamma_continued_fraction(a, x);
}

template <typename T>
bool parse_decimal(const std::string& s, T& out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

}  // namespace

double chi_square_upper_tail(double x, int dof) {
  if (dof <= 0)
    return 1.0;
  return std::clamp(regularized_upper_gamma(dof / 2.0, x / 2.0), 0.0, 1.0);
}

DistributionSummary summarize_distribution(std::span<const int64_t> counts) {
  DistributionSummary s;
  s.counts.assign(counts.begin(), counts.end());
  if (counts.empty())
    return s;
  const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  s.min = *lo;
  s.max = *hi;
  for (const int64_t c : counts) s.total += c;
  s.max_over_min = s.min == 0 ? std::numeric_limits<double>::infinity()
                              : static_cast<double>(s.max) / static_cast<double>(s.min);
  if (counts.size() < 2 || s.total == 0)
    return s;  // nothing to compare: chi-square 0, p 1
  const double expected = static_cast<double>(s.total) / static_cast<double>(counts.size());
  for (const int64_t c : counts) {
    const double diff = static_cast<double>(c) - expected;
    s.chi_square += diff * diff / expected;
  }
  s.p_value = chi_square_upper_tail(s.chi_square, static_cast<int>(counts.size()) - 1);
  return s;
}

std::string format_seed_table(std::span<const int64_t> counts, const std::string& label) {
  std::ostringstream out;
  for (std::size_t i = 0; i < counts.size(); ++i)
    out << label << ' ' << i << " : " << counts[i] << " times\n";
  return out.str();
}

std::vector<int64_t> parse_seed_table(const std::string& output) {
  // Tolerant of spacing, anchored to whole lines so that other output that
  // merely mentions "child" is not taken for a table row.
  static const std::regex row(R"(^\s*(?:child|thread)\s+(\d+)\s*:\s*(\d+)\s+times?\s*$)");
  std::vector<int64_t> counts;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    std::smatch m;
    if (!std::regex_match(line, m, row))
      continue;
    std::size_t index = 0;
    int64_t count = 0;
    if (!parse_decimal(m[1].str(), index) || !parse_decimal(m[2].str(), count))
      continue;
    if (index > 100000)
      continue;  // not a worker table; refuse to allocate for it
    if (counts.size() <= index)
      counts.resize(index + 1, 0);
    counts[index] = count;  // a later table (printed again) wins
  }
  return counts;
}

double percentile(std::vector<double> values, double q) {
  if (values.empty())
    return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const auto n = values.size();
  // Nearest rank: the smallest value with at least q of the values at or below it.
  const auto rank =
      static_cast<std::size_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(n)));
  return values[std::clamp<std::size_t>(rank, 1, n) - 1];
}

}  // namespace csd::harness
