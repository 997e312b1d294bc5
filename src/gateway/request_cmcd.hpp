// The CMCD data (CTA-5004) a client request carries, found and read for the data path.
//
// Cheap when absent, which is the common case for API traffic: one scan of the query for a
// `CMCD` parameter and one pass over the header fields comparing only the lengths of the
// fields Beast does not know (the CMCD-* names are not in its table) before their names.
// Only when something is there does parse_cmcd() run (src/gateway/core/cmcd.hpp: no heap,
// never throws). A CMCD parameter given twice, or a CMCD-* field given twice, is read once
// (the first) and reported as a problem. Pure; any thread.
#pragma once

#include <optional>

#include "common/http/http_types.hpp"
#include "gateway/core/cmcd.hpp"

namespace sg::gateway {

// The sources `head` carries (views into it); none present when the request has no CMCD.
CmcdSources request_cmcd_sources(const http::RequestHeader& head);

// The report of the request's CMCD, or nullopt when it carries none.
std::optional<CmcdReport> read_request_cmcd(const http::RequestHeader& head);

}  // namespace sg::gateway
