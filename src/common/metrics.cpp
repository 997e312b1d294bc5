#include "common/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace sg::metrics {
namespace {

constexpr char kKeySep = '\x1f';

void append_escaped_label(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

void append_escaped_help(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

const char* type_name(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

constexpr double kLatencyBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.2,   0.25,   0.5,   1.0,  2.5,   5.0,  10.0};

}  // namespace

std::span<const double> default_latency_buckets() { return kLatencyBuckets; }

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ec == std::errc() ? end : buf);
}

void append_sample(std::string& out, std::string_view name,
                   std::span<const std::string> label_names,
                   std::span<const std::string> label_values, double value,
                   std::string_view extra_label, std::string_view extra_value) {
  out += name;
  if (!label_names.empty() || !extra_label.empty()) {
    out += '{';
    bool first = true;
    for (std::size_t i = 0; i < label_names.size(); ++i) {
      if (!first) out += ',';
      first = false;
      out += label_names[i];
      out += "=\"";
      append_escaped_label(out, label_values[i]);
      out += '"';
    }
    if (!extra_label.empty()) {
      if (!first) out += ',';
      out += extra_label;
      out += "=\"";
      out += extra_value;
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  append_double(out, value);
  out += '\n';
}

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()),
      lines_per_shard_((bounds.size() + 1 + kPerLine - 1) / kPerLine),
      lines_(std::make_unique<Line[]>(lines_per_shard_ * kThreadShards)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end()) {
    throw std::invalid_argument("histogram bounds must be strictly increasing");
  }
}

void Histogram::observe(double v) {
  const std::size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  const std::size_t shard = this_thread_shard();
  bucket(shard, i).fetch_add(1, std::memory_order_relaxed);
  sums_[shard].v.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    for (std::size_t shard = 0; shard < kThreadShards; ++shard)
      acc += bucket(shard, i).load(std::memory_order_relaxed);
    s.cumulative[i] = acc;
  }
  // count is the +Inf bucket so the exposition is self-consistent even while observing.
  s.count = acc;
  for (const auto& sum : sums_) s.sum += sum.v.load(std::memory_order_relaxed);
  return s;
}

FamilyBase::FamilyBase(std::string name, std::string help, Type type,
                       std::vector<std::string> labels)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(labels)) {}

void append_family_head(std::string& out, std::string_view name, std::string_view type,
                        std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  append_escaped_help(out, help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void FamilyBase::render(std::string& out) const {
  append_family_head(out, name_, type_name(type_), help_);
  std::lock_guard lock(mu_);
  render_samples(out);
}

template <class M>
template <class It>
M& Family<M>::find_or_create(It begin, It end) {
  thread_local std::string key;
  key.clear();
  std::size_t n = 0;
  for (It it = begin; it != end; ++it, ++n) {
    key.append(it->data(), it->size());
    key += kKeySep;
  }
  if (n != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + ": wrong number of label values");
  }
  std::lock_guard lock(mu_);
  if (auto found = children_.find(std::string_view(key)); found != children_.end()) {
    return *found->second.metric;
  }
  Child child;
  for (It it = begin; it != end; ++it) child.values.emplace_back(*it);
  child.metric = factory_();
  M& ref = *child.metric;
  children_.emplace(key, std::move(child));
  return ref;
}

template <class M>
M& Family<M>::with(std::initializer_list<std::string_view> values) {
  return find_or_create(values.begin(), values.end());
}

template <class M>
M& Family<M>::with(std::span<const std::string> values) {
  return find_or_create(values.begin(), values.end());
}

template <class M>
void Family<M>::render_samples(std::string& out) const {
  // Render in label order so scrapes are stable and diffable.
  std::map<std::vector<std::string>, const M*> ordered;
  for (const auto& [key, child] : children_) ordered.emplace(child.values, child.metric.get());
  for (const auto& [values, metric] : ordered) {
    if constexpr (std::is_same_v<M, Histogram>) {
      auto snap = metric->snapshot();
      std::string bucket_name = name_ + "_bucket";
      for (std::size_t i = 0; i < snap.bounds.size(); ++i) {
        std::string le;
        append_double(le, snap.bounds[i]);
        append_sample(out, bucket_name, label_names_, values,
                      static_cast<double>(snap.cumulative[i]), "le", le);
      }
      append_sample(out, bucket_name, label_names_, values,
                    static_cast<double>(snap.cumulative.back()), "le", "+Inf");
      append_sample(out, name_ + "_sum", label_names_, values, snap.sum);
      append_sample(out, name_ + "_count", label_names_, values, static_cast<double>(snap.count));
    } else {
      append_sample(out, name_, label_names_, values, static_cast<double>(metric->value()));
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <class M>
Family<M>& Registry::add(std::unique_ptr<Family<M>> family) {
  std::lock_guard lock(mu_);
  for (const auto& f : families_) {
    if (f->name() == family->name()) {
      throw std::invalid_argument("metric family registered twice: " + family->name());
    }
  }
  Family<M>& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> labels) {
  return add(std::make_unique<Family<Counter>>(std::move(name), std::move(help), Type::kCounter,
                                               std::move(labels),
                                               [] { return std::make_unique<Counter>(); }));
}

Family<Gauge>& Registry::gauge(std::string name, std::string help,
                               std::vector<std::string> labels) {
  return add(std::make_unique<Family<Gauge>>(std::move(name), std::move(help), Type::kGauge,
                                             std::move(labels),
                                             [] { return std::make_unique<Gauge>(); }));
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<std::string> labels,
                                       std::span<const double> bounds) {
  std::vector<double> b(bounds.begin(), bounds.end());
  return add(std::make_unique<Family<Histogram>>(
      std::move(name), std::move(help), Type::kHistogram, std::move(labels),
      [b = std::move(b)] { return std::make_unique<Histogram>(b); }));
}

void Registry::add_collector(std::function<void(std::string&)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::render() const {
  std::string out;
  out.reserve(8192);
  std::lock_guard lock(mu_);
  for (const auto& f : families_) f->render(out);
  for (const auto& c : collectors_) c(out);
  return out;
}

}  // namespace sg::metrics
