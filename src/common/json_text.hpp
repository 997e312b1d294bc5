// Renders a Boost.JSON value as compact JSON text with human-friendly numbers: doubles in
// their shortest round-trip form ("12.5", "0.001", "1e-07", "10.0"), not Boost 1.81's
// "1.25E1"; a double always prints as a double, so it parses back as one.
// Strings are escaped as RFC 8259 requires; output is one line.
#pragma once

#include <boost/json/value.hpp>
#include <string>

namespace sg {

std::string json_text(const boost::json::value& value);
void append_json_text(std::string& out, const boost::json::value& value);

}  // namespace sg
