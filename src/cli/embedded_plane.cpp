#include "cli/embedded_plane.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cstdlib>
#include <iostream>

#include "cli/control_client.hpp"

namespace sg::cli {

Result<std::unique_ptr<EmbeddedPlane>> EmbeddedPlane::start_if_needed(const Common& c) {
  if (!c.kube.enabled) return std::unique_ptr<EmbeddedPlane>();
  if (const char* remote = std::getenv("SG_CONTROL_ADDRESS"); remote != nullptr && *remote != '\0') {
    return std::unique_ptr<EmbeddedPlane>();
  }
  if (ControlClient::connect(c.state_dir)) return std::unique_ptr<EmbeddedPlane>();
  std::error_code ec;
  std::filesystem::create_directories(c.state_dir, ec);
  if (ec) return make_error(ErrorCode::kInvalidArgument, "state dir " + c.state_dir.string() + ": " + ec.message());
  std::unique_ptr<EmbeddedPlane> e(new EmbeddedPlane());
  e->lock_ = UniqueFd(::open((c.state_dir / "up.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!e->lock_.valid() || ::flock(e->lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    return make_error(ErrorCode::kConflict, "another sgctl drives the cluster from state dir " +
                                                c.state_dir.string() + " and its control API does not answer");
  }
  platform::LocalPlaneOptions o;
  o.state_dir = c.state_dir;
  o.kube = c.kube;
  o.kube.controller = false;
  auto plane = platform::LocalControlPlane::start(std::move(o));
  if (!plane) return plane.error();
  e->plane_ = std::move(*plane);
  std::cerr << "sgctl: no control plane runs for namespace " << c.kube.ns
            << "; running the engine in this command (control API " << e->plane_->control_address() << ")\n";
  e->thread_ = std::thread([p = e.get()] {
    if (Status st = p->plane_->run(p->stop_); !st) std::cerr << "sgctl: stopped driving: " << st.error().message << "\n";
  });
  return e;
}

EmbeddedPlane::~EmbeddedPlane() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  plane_.reset();
}

}  // namespace sg::cli
