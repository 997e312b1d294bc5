// The Allow field's method list as handlers write it ("GET, HEAD, PUT"): one parser for the
// server's and the gateway admin API's 405 decisions.
#pragma once

#include <ostream>  // before Beast: its string_view streams need it

#include <boost/beast/http/verb.hpp>
#include <string_view>

namespace sg::http {

// Whether `method` is one of the comma-separated names in `allow` (spaces after commas).
bool method_in(boost::beast::http::verb method, std::string_view allow);

}  // namespace sg::http
