#include "common/logging.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

#include <bpf/libbpf.h>
#include <grpc/support/log.h>

#include <array>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>

#include "spdlog/sinks/stdout_color_sinks.h"

namespace bulkhead {
namespace {

constexpr std::array kComponents = {
    Component::kAgent,    Component::kNetpol,       Component::kBudget, Component::kFlows,
    Component::kIdentity, Component::kControlplane, Component::kStore,  Component::kApiserver,
    Component::kSyncer,   Component::kCli,          Component::kLibbpf, Component::kGrpc,
    Component::kNode,
};

std::mutex g_init_mutex;
spdlog::level::level_enum g_level = spdlog::level::info;

std::shared_ptr<spdlog::logger> MakeLogger(Component component) {
  std::string name(ComponentName(component));
  if (auto existing = spdlog::get(name)) {
    return existing;
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(name, sink);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%L%$ %n: %v");
  logger->set_level(g_level);
  spdlog::register_logger(logger);
  return logger;
}

int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  std::array<char, 1024> buffer{};
  int written = std::vsnprintf(buffer.data(), buffer.size(), format, args);
  if (written <= 0) {
    return written;
  }
  std::string_view line(buffer.data(), std::min(static_cast<size_t>(written), buffer.size() - 1));
  while (!line.empty() && line.back() == '\n') {
    line.remove_suffix(1);
  }
  auto& logger = Logger(Component::kLibbpf);
  switch (level) {
    case LIBBPF_WARN:
      logger.warn("{}", line);
      break;
    case LIBBPF_INFO:
      logger.debug("{}", line);
      break;
    case LIBBPF_DEBUG:
      logger.trace("{}", line);
      break;
  }
  return written;
}

void GrpcLog(gpr_log_func_args* args) {
  auto& logger = Logger(Component::kGrpc);
  switch (args->severity) {
    case GPR_LOG_SEVERITY_ERROR:
      logger.error("{} file={}:{}", args->message, args->file, args->line);
      break;
    case GPR_LOG_SEVERITY_INFO:
      logger.info("{}", args->message);
      break;
    case GPR_LOG_SEVERITY_DEBUG:
      logger.debug("{}", args->message);
      break;
  }
}

}  // namespace

std::string_view ComponentName(Component component) {
  switch (component) {
    case Component::kAgent:
      return "agent";
    case Component::kNetpol:
      return "netpol";
    case Component::kBudget:
      return "budget";
    case Component::kFlows:
      return "flows";
    case Component::kIdentity:
      return "identity";
    case Component::kControlplane:
      return "controlplane";
    case Component::kStore:
      return "store";
    case Component::kApiserver:
      return "apiserver";
    case Component::kSyncer:
      return "syncer";
    case Component::kCli:
      return "cli";
    case Component::kLibbpf:
      return "libbpf";
    case Component::kGrpc:
      return "grpc";
    case Component::kNode:
      return "node";
  }
  return "unknown";
}

void InitLogging(const LogOptions& options) {
  std::lock_guard lock(g_init_mutex);
  g_level = options.level;
  for (Component component : kComponents) {
    MakeLogger(component)->set_level(options.level);
  }
  libbpf_set_print(LibbpfPrint);
  gpr_set_log_function(GrpcLog);
  gpr_set_log_verbosity(options.level <= spdlog::level::debug ? GPR_LOG_SEVERITY_DEBUG
                                                              : GPR_LOG_SEVERITY_ERROR);
}

absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 7> kLevels = {
      {
          {"trace", spdlog::level::trace},
          {"debug", spdlog::level::debug},
          {"info", spdlog::level::info},
          {"warn", spdlog::level::warn},
          {"warning", spdlog::level::warn},
          {"error", spdlog::level::err},
          {"off", spdlog::level::off},
      }};
  for (const auto& [name, level] : kLevels) {
    if (text == name) {
      return level;
    }
  }
  return absl::InvalidArgumentError(fmt::format(
      "unknown log level \"{}\": use one of trace, debug, info, warn, error, off", text));
}

spdlog::logger& Logger(Component component) {
  auto logger = spdlog::get(std::string(ComponentName(component)));
  if (!logger) {
    std::lock_guard lock(g_init_mutex);
    logger = MakeLogger(component);
  }
  return *logger;
}

}  // namespace bulkhead
