// PostgreSQL faults for durability tests, made on a real server (tests/support/services.hpp):
// a COMMIT that takes long, and a COMMIT whose answer is lost because its backend is ended
// while it runs (the client cannot tell whether it committed).
#pragma once

#include <string>

namespace sg::test {

// From now on, every COMMIT of a transaction that updated a row of `content` in the database
// at `url` runs a 5 s deferred trigger first.
void slow_content_commits(const std::string& url);
// Undoes slow_content_commits.
void normal_content_commits(const std::string& url);
// Waits (at most 5 s) for a COMMIT to be running on that database and ends its backend with
// pg_terminate_backend. True when one was ended.
bool terminate_running_commit(const std::string& url);

}  // namespace sg::test
