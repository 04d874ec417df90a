// The check catalogue as people and tools read it: `csd-suite
// --list-checks` (text), `--list-checks=markdown` (docs/CHECKS.md, kept
// equal to this output by a test) and `--list-checks=json` (csd-selftest
// reads it); and the run's verdict by level, after the checks have run.
#pragma once

#include <optional>
#include <ostream>
#include <string_view>
#include <vector>

#include "check.hpp"
#include "manifest.hpp"

namespace csd::suite {

enum class CatalogueFormat { text, markdown, json };
std::optional<CatalogueFormat> parse_catalogue_format(std::string_view name);

// Every selected check, with how many of `implementations` it applies to.
void print_catalogue(CatalogueFormat format, const std::vector<harness::Manifest>& implementations,
                     const CheckSelection& selection, std::ostream& out);

// After RUN_ALL_TESTS(): 1 if a required check (or a test that is no check,
// a demo's) failed, or with `strict` any; else 0. Each failed recommended
// check is printed to `out` as a warning.
int verdict_by_level(bool strict, std::ostream& out);

}  // namespace csd::suite
