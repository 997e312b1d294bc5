// GrowingStringBody: a Beast request body read into a std::string that grows with the bytes
// that arrived, never with the bytes announced.
//
// Beast's string_body reserves the whole Content-Length at the first body byte, so a client
// announcing 1 MiB and sending one byte made the server reserve 1 MiB (2,000 such connections:
// 2 GiB of address space). This body grows geometrically (at least doubling, so appends stay
// amortised O(1)) from what arrived, capped at the announced length: capacity() is at most
// twice the bytes received, and never above Content-Length when there is one. Parsing only;
// the value type is std::string, so a parsed message converts to http::Request without a copy
// (to_request()).
#pragma once

#include <algorithm>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/http/http_types.hpp"

namespace sg::http {

struct GrowingStringBody {
  using value_type = std::string;

  static std::uint64_t size(const value_type& body) { return body.size(); }

  class reader {
   public:
    template <bool IsRequest, class Fields>
    reader(bhttp::header<IsRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, boost::system::error_code& ec) {
      if (length && *length > body_.max_size()) {
        ec = bhttp::error::buffer_overflow;
        return;
      }
      if (length) length_ = static_cast<std::size_t>(*length);
      ec = {};
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
      const std::size_t extra = boost::asio::buffer_size(buffers);
      const std::size_t size = body_.size();
      if (extra > body_.max_size() - size) {
        ec = bhttp::error::buffer_overflow;
        return 0;
      }
      const std::size_t needed = size + extra;
      if (needed > body_.capacity()) {
        std::size_t grown = std::max<std::size_t>({needed, 2 * body_.capacity(), kFirst});
        if (length_) grown = std::min(grown, std::max(needed, *length_));
        // reserve() on a grown string may round up to twice its capacity; a fresh one
        // takes exactly what it is asked for.
        value_type fresh;
        fresh.reserve(grown);
        fresh.append(body_);
        body_.swap(fresh);
      }
      for (const auto b : boost::beast::buffers_range_ref(buffers)) {
        body_.append(static_cast<const char*>(b.data()), b.size());
      }
      ec = {};
      return extra;
    }

    void finish(boost::system::error_code& ec) { ec = {}; }

   private:
    static constexpr std::size_t kFirst = 256;
    value_type& body_;
    boost::optional<std::size_t> length_;
  };
};

using GrowingRequest = bhttp::request<GrowingStringBody>;

// The parsed request as the Handler contract's Request (the body string is moved, not copied).
inline Request to_request(GrowingRequest&& parsed) {
  return Request(std::move(parsed.base()), std::move(parsed.body()));
}

}  // namespace sg::http
