// A small Prometheus metrics registry that renders the text exposition format 0.0.4.
//
// Thread-safety: every method may be called from any thread. Counter/Gauge/Histogram
// updates are lock-free atomics; Family::with() takes the family's mutex only to find or
// create a labelled child, and children live as long as the registry (references stay valid).
// Counters and histograms keep one cache line per thread shard (common/thread_shard.hpp), so
// worker threads counting every request do not contend; reading them sums the shards.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/thread_shard.hpp"

namespace sg::metrics {

class Counter {
 public:
  void inc(std::uint64_t n = 1) {
    slots_[this_thread_shard()].v.fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t value() const {
    std::uint64_t sum = 0;
    for (const auto& s : slots_) sum += s.v.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  struct alignas(64) Slot {
    std::atomic<std::uint64_t> v{0};
  };
  std::array<Slot, kThreadShards> slots_{};
};

class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Cumulative-bucket histogram. `bounds` are the upper bounds (le), strictly increasing;
// +Inf is implicit.
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  // kPerLine counters per cache line; each shard's buckets start on a line of their own.
  static constexpr std::size_t kPerLine = 8;
  struct alignas(64) Line {
    std::atomic<std::uint64_t> v[kPerLine] = {};
  };
  struct alignas(64) SumSlot {
    std::atomic<double> v{0};
  };
  std::atomic<std::uint64_t>& bucket(std::size_t shard, std::size_t i) {
    return lines_[shard * lines_per_shard_ + i / kPerLine].v[i % kPerLine];
  }
  const std::atomic<std::uint64_t>& bucket(std::size_t shard, std::size_t i) const {
    return lines_[shard * lines_per_shard_ + i / kPerLine].v[i % kPerLine];
  }

  std::vector<double> bounds_;
  std::size_t lines_per_shard_;  // for bounds_.size() + 1 buckets
  std::unique_ptr<Line[]> lines_;
  std::array<SumSlot, kThreadShards> sums_{};
};

// Default latency buckets in seconds: 1 ms .. 10 s.
std::span<const double> default_latency_buckets();

enum class Type { kCounter, kGauge, kHistogram };

// Renders one metric sample line ("name{a="x"} value\n") with label-value escaping.
void append_sample(std::string& out, std::string_view name,
                   std::span<const std::string> label_names,
                   std::span<const std::string> label_values, double value,
                   std::string_view extra_label = {}, std::string_view extra_value = {});
void append_double(std::string& out, double v);
// Renders the "# HELP" and "# TYPE" lines that open a family (type: counter, gauge, ...).
void append_family_head(std::string& out, std::string_view name, std::string_view type,
                        std::string_view help);

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> labels);
  virtual ~FamilyBase() = default;
  void render(std::string& out) const;
  const std::string& name() const { return name_; }

 protected:
  virtual void render_samples(std::string& out) const = 0;
  std::string name_;
  std::string help_;
  Type type_;
  std::vector<std::string> label_names_;
  mutable std::mutex mu_;
};

template <class M>
class Family final : public FamilyBase {
 public:
  using Factory = std::function<std::unique_ptr<M>()>;
  Family(std::string name, std::string help, Type type, std::vector<std::string> labels,
         Factory factory)
      : FamilyBase(std::move(name), std::move(help), type, std::move(labels)),
        factory_(std::move(factory)) {}

  // The child for these label values (same count and order as the label names).
  M& with(std::initializer_list<std::string_view> values);
  M& with(std::span<const std::string> values);

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Child {
    std::vector<std::string> values;
    std::unique_ptr<M> metric;
  };
  template <class It>
  M& find_or_create(It begin, It end);
  void render_samples(std::string& out) const override;

  Factory factory_;
  std::unordered_map<std::string, Child, Hash, std::equal_to<>> children_;
};

class Registry {
 public:
  Family<Counter>& counter(std::string name, std::string help,
                           std::vector<std::string> labels = {});
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<std::string> labels,
                               std::span<const double> bounds = default_latency_buckets());

  // A collector appends complete families (HELP, TYPE, samples) at render time; for values
  // read on demand such as process_* metrics.
  void add_collector(std::function<void(std::string&)> collector);

  std::string render() const;

 private:
  template <class M>
  Family<M>& add(std::unique_ptr<Family<M>> family);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
  std::vector<std::function<void(std::string&)>> collectors_;
};

}  // namespace sg::metrics
