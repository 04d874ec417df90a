// The files a failed check leaves behind as its evidence, by suffix:
// csd-suite writes them next to its results, csd-report moves them into its
// folder with the rest. One list, so neither loses what the other makes.
#pragma once

#include <array>
#include <string_view>

namespace csd::harness::evidence {

inline constexpr std::string_view kCapture = ".pcap";               // the packets
inline constexpr std::string_view kWire = ".wire.txt";              // their transcript, beside
inline constexpr std::string_view kServerOutput = ".server.txt";    // stdout and stderr
inline constexpr std::string_view kProcessTree = ".processes.txt";  // at the failure
inline constexpr std::array kSuffixes = {kCapture, kWire, kServerOutput, kProcessTree};

}  // namespace csd::harness::evidence
