#include "support/pg_faults.hpp"

#include <chrono>
#include <pqxx/pqxx>
#include <thread>

namespace sg::test {

void slow_content_commits(const std::string& url) {
  pqxx::connection admin(url);
  pqxx::work w(admin);
  w.exec(
      "CREATE FUNCTION sg_slow_commit() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(5); "
      "RETURN NULL; END $$ LANGUAGE plpgsql");
  w.exec(
      "CREATE CONSTRAINT TRIGGER sg_slow_commit AFTER UPDATE ON content DEFERRABLE INITIALLY "
      "DEFERRED FOR EACH ROW EXECUTE FUNCTION sg_slow_commit()");
  w.commit();
}

void normal_content_commits(const std::string& url) {
  pqxx::connection admin(url);
  pqxx::work w(admin);
  w.exec("DROP TRIGGER sg_slow_commit ON content");
  w.commit();
}

bool terminate_running_commit(const std::string& url) {
  pqxx::connection admin(url);
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    pqxx::nontransaction n(admin);
    auto r = n.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'active' AND "
        "query ILIKE 'commit%' AND pid <> pg_backend_pid()");
    if (!r.empty() && r[0][0].as<bool>()) return true;
  }
  return false;
}

}  // namespace sg::test
