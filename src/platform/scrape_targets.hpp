// Prometheus file-based service discovery for the local platform: the control plane keeps
// STATE_DIR/prometheus/{control,gateway,servers}.json up to date (deploy/prometheus/
// prometheus.yml reads them), so Prometheus finds replicas on their ephemeral ports the way
// it finds pods on Kubernetes. Every target carries namespace="streamgate"; a replica also
// pod, deployment, track and release.
//
// Thread-safety: one ScrapeTargets per writer thread.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "common/result.hpp"
#include "platform/model.hpp"

namespace sg::platform {

// The file_sd JSON documents for `status`, by file name.
std::map<std::string, std::string> scrape_target_files(const PlatformStatus& status,
                                                       const std::string& control_address);

class ScrapeTargets {
 public:
  explicit ScrapeTargets(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // Writes the files whose content changed (to a temp file, then renamed into place, so
  // Prometheus never reads half a file).
  Status update(const PlatformStatus& status, const std::string& control_address);

 private:
  std::filesystem::path dir_;
  std::map<std::string, std::string> written_;
};

}  // namespace sg::platform
