// Logging: spdlog, one named logger per component.
//
// Components log through Logger(Component::kX). Messages that an operator
// will grep carry key=value fields: "attach program=connect4 cgroup=/x".
// libbpf's print callback and gRPC's log function are routed into the
// "libbpf" and "grpc" loggers by InitLogging.
#ifndef BULKHEAD_COMMON_LOGGING_H_
#define BULKHEAD_COMMON_LOGGING_H_

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "spdlog/spdlog.h"

namespace bulkhead {

enum class Component {
  kAgent,
  kNetpol,
  kBudget,
  kFlows,
  kIdentity,
  kControlplane,
  kStore,
  kApiserver,
  kSyncer,
  kCli,
  kLibbpf,
  kGrpc,
  kNode,
};

std::string_view ComponentName(Component component);

struct LogOptions {
  spdlog::level::level_enum level = spdlog::level::info;
  // Log lines go to stderr, so a command's stdout stays machine-readable.
};

// Creates every component logger (idempotent) and routes libbpf and gRPC.
void InitLogging(const LogOptions& options = {});

// Parses "trace|debug|info|warn|error|off".
absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(std::string_view text);

// The named logger of a component. InitLogging need not have run: the
// logger is then created with defaults on first use.
spdlog::logger& Logger(Component component);

}  // namespace bulkhead

#endif  // BULKHEAD_COMMON_LOGGING_H_
