// The client side of the local control API: finds the running `sgctl up` through the state
// directory (STATE_DIR/control-address and STATE_DIR/control-token) and calls it.
#pragma once

#include <boost/json/value.hpp>
#include <filesystem>
#include <string>

#include "common/result.hpp"

namespace sg::cli {

class ControlClient {
 public:
  // Fails (kUnavailable) with "no control plane is running for STATE_DIR; start it with
  // sgctl up --state-dir STATE_DIR" when the files are missing or nothing answers.
  static Result<ControlClient> connect(const std::filesystem::path& state_dir);

  Result<boost::json::value> get(const std::string& path) const;
  Result<boost::json::value> post(const std::string& path, const boost::json::value& body) const;

 private:
  ControlClient(std::string address, std::string token)
      : address_(std::move(address)), token_(std::move(token)) {}
  std::string address_;
  std::string token_;
};

}  // namespace sg::cli
