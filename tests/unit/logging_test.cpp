#include "common/logging.h"
#include "common/status.h"

#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <sstream>

#include "spdlog/sinks/ostream_sink.h"

namespace bulkhead {
namespace {

TEST(ParseLogLevel, KnownAndUnknown) {
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("error"), spdlog::level::err);
  auto bad = ParseLogLevel("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(MessageOf(bad.status()).find("trace, debug, info, warn, error, off"),
            std::string::npos);
}

TEST(Logging, ComponentLoggersHaveTheirNames) {
  InitLogging({});
  EXPECT_EQ(Logger(Component::kNetpol).name(), "netpol");
  EXPECT_EQ(Logger(Component::kBudget).name(), "budget");
  EXPECT_EQ(&Logger(Component::kAgent), &Logger(Component::kAgent));
}

TEST(Logging, LibbpfMessagesGoToTheLibbpfLogger) {
  InitLogging({.level = spdlog::level::trace});
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto& logger = Logger(Component::kLibbpf);
  logger.sinks().push_back(sink);

  // libbpf warns when it cannot open an object file.
  bpf_object* object = bpf_object__open_file("/nonexistent/bulkhead-test.bpf.o", nullptr);
  EXPECT_EQ(object, nullptr);

  logger.sinks().pop_back();
  InitLogging({});
  EXPECT_NE(captured.str().find("bulkhead-test.bpf.o"), std::string::npos) << captured.str();
}

}  // namespace
}  // namespace bulkhead
