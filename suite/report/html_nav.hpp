// The navigation of report.html's matrix: a few lines of inline script
// (no external file: the page works offline) that read the URL's fragment,
// report.html#verdict=fail,warn&impl=my-*&check=size/*&order=failures, hide
// the cells, rows and columns that do not match, and put the rows and
// columns with the most failures first; and the links that set them.
#pragma once

#include <string_view>

namespace csd::report::html {

// A <script> element, to come after the matrix (table#matrix: a <thead> row
// of th[data-impl], <tbody> rows tr[data-check] whose first cell names the check).
extern const std::string_view kMatrixScript;

// The links above the matrix, and the paragraph (#filter-note) the script
// fills with what it shows.
extern const std::string_view kFilterLinks;

}  // namespace csd::report::html
