// Expected failures as values. A Status is either ok or an Error (code + message);
// Result<T> is either a T or an Error. Exceptions are for programmer errors only and are
// converted to an Error at module boundaries.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace sg {

enum class ErrorCode {
  kInvalidArgument,      // the caller's input is wrong; HTTP 400
  kUnauthenticated,      // no or malformed credentials; HTTP 401
  kPermissionDenied,     // credentials valid but not allowed; HTTP 403
  kNotFound,             // HTTP 404
  kConflict,             // HTTP 409
  kPreconditionFailed,   // optimistic concurrency check failed; HTTP 412
  kTooLarge,             // HTTP 413
  kRangeNotSatisfiable,  // HTTP 416
  kUnavailable,          // a dependency is down; retry later; HTTP 503
  kTimeout,              // HTTP 504
  kInternal,             // a bug or an unexpected failure; HTTP 500
};

// The stable, lower-case name of a code, used in JSON errors ("not_found").
const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;
  // A write whose outcome is unknown: it may or may not have taken effect (a commit whose
  // answer was lost with the connection). Callers must not undo what it may have done.
  bool outcome_unknown = false;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design
  static Status ok() { return {}; }

  bool is_ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_{ErrorCode::kInternal, {}};
  bool ok_ = true;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool is_ok() const { return v_.index() == 0; }
  explicit operator bool() const { return is_ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }
  Status status() const { return is_ok() ? Status::ok() : Status(error()); }

 private:
  std::variant<T, Error> v_;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace sg
