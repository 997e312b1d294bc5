#include "common/proc_stat.hpp"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <string>

namespace sg {

double ProcStat::cpu_seconds() const {
  return static_cast<double>(utime_ticks + stime_ticks) /
         static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double ProcStat::rss_bytes() const {
  return static_cast<double>(rss_pages) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  const auto close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  ProcStat out;
  std::string_view rest = text.substr(close + 1);
  // Field numbers as in proc(5): the first after ')' is field 3.
  int field = 3;
  while (!rest.empty() && field <= 24) {
    const auto start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const auto stop = std::min(rest.find_first_of(" \n"), rest.size());
    const std::string_view word = rest.substr(0, stop);
    rest.remove_prefix(stop);
    std::uint64_t* target = field == 14   ? &out.utime_ticks
                            : field == 15 ? &out.stime_ticks
                            : field == 22 ? &out.start_ticks
                            : field == 23 ? &out.vsize_bytes
                            : field == 24 ? &out.rss_pages
                                          : nullptr;
    if (field == 3) {
      if (word.size() != 1) return std::nullopt;
      out.state = word[0];
    } else if (target != nullptr) {
      const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), *target);
      if (ec != std::errc() || end != word.data() + word.size()) {
        // rss may be negative for kernel threads; anything else is not a stat line.
        if (field != 24) return std::nullopt;
        *target = 0;
      }
    }
    ++field;
  }
  if (field <= 24) return std::nullopt;
  return out;
}

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  if (pid < 0) return std::nullopt;
  const std::string path = pid == 0 ? "/proc/self/stat" : "/proc/" + std::to_string(pid) + "/stat";
  std::ifstream in(path);
  if (!in) return std::nullopt;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_proc_stat(text);
}

}  // namespace sg
