#include "agent/netpol/flow_format.h"

#include <ctime>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace bulkhead::agent::netpol {

std::string FormatTime(std::chrono::system_clock::time_point time) {
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                     micros % 1000000);
}

std::string FlowRecordJson(const FlowRecord& r) {
  nlohmann::json doc = {
      {"time", FormatTime(r.time)},
      {"node", r.node},
      {"verdict", VerdictName(r.verdict)},
      {"reason", ReasonName(r.reason)},
      {"hook", HookName(r.hook)},
      {"protocol", ProtocolName(r.protocol)},
      {"source",
       {{"tenant", r.src_tenant},
        {"pod", r.src_pod},
        {"address", r.src_address.ToString()},
        {"port", r.src_port}}},
      {"destination",
       {{"tenant", r.dst_tenant},
        {"pod", r.dst_pod},
        {"address", r.dst_address.ToString()},
        {"port", r.dst_port}}},
  };
  return doc.dump();
}

}  // namespace bulkhead::agent::netpol
