// libFuzzer target: the Prometheus text parser the control plane runs on every gateway scrape
// (parse_track_traffic, src/platform/track_traffic.cpp). Its input comes from a process the
// control plane does not trust blindly: a gateway that was replaced, misconfigured or
// compromised.
//
// The input is split at the first 0xFF byte into two expositions: a baseline and a later
// scrape. Invariants (a violation prints what failed and traps):
//   - no exception escapes, no undefined behaviour (counts beyond 2^64, NaN, +Inf values);
//   - every track with a histogram has strictly increasing finite bounds and one count more
//     than bounds (the +Inf bucket), or the parse is an error naming the track;
//   - since(baseline) of every track keeps the later scrape's bounds, has as many counts,
//     and never counts more than the later scrape did.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "platform/track_traffic.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_prometheus_text: invariant broken: %s\n", what);
  std::abort();
}

void check_shape(const sg::platform::TrackTraffic& t) {
  for (const auto& [track, s] : t.tracks) {
    if (s.bounds.empty() && s.counts.empty()) continue;
    if (s.counts.size() != s.bounds.size() + 1) fail("counts are not bounds + 1");
    for (std::size_t i = 0; i < s.bounds.size(); ++i) {
      if (!std::isfinite(s.bounds[i])) fail("a finite bound is not finite");
      if (i > 0 && !(s.bounds[i - 1] < s.bounds[i])) fail("bounds are not increasing");
    }
  }
}

void run(std::string_view data) {
  const auto split = data.find('\xff');
  const std::string_view first = data.substr(0, split);
  const std::string_view second =
      split == std::string_view::npos ? std::string_view{} : data.substr(split + 1);
  auto base = sg::platform::parse_track_traffic(first);
  auto now = sg::platform::parse_track_traffic(second);
  if (base) check_shape(*base);
  if (!now) {
    if (now.error().message.empty()) fail("an error without a message");
    return;
  }
  check_shape(*now);
  const sg::platform::TrackTraffic empty;
  for (const auto& [track, s] : now->tracks) {
    const auto d = now->since(base ? *base : empty, track);
    if (d.bounds != s.bounds) fail("since() changed the bounds");
    if (d.counts.size() != s.counts.size()) fail("since() changed the bucket count");
    if (d.requests > s.requests || d.errors > s.errors) fail("since() counts more than now");
    for (std::size_t i = 0; i < d.counts.size(); ++i) {
      if (d.counts[i] > s.counts[i]) fail("since() has a bucket larger than now");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 1 << 16) return 0;
  try {
    run(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_prometheus_text: exception escaped: %s\n", e.what());
    std::abort();
  }
  return 0;
}
