#include "common/cli.h"

#include <iostream>

#include "common/logging.h"

namespace bulkhead {
namespace {

std::string* g_log_level = nullptr;

}  // namespace

void AddLogLevelFlag(CLI::App& app, std::string& level) {
  g_log_level = &level;
  app.add_option("--log-level", level, "Log verbosity: trace, debug, info, warn, error, off")
      ->capture_default_str();
}

int ParseCli(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    // CLI11 words some errors over several lines; keep one.
    if (auto newline = what.find('\n'); newline != std::string::npos) {
      what.resize(newline);
    }
    std::cerr << app.get_name() << ": " << what << "; see '" << app.get_name() << " --help'\n";
    return kExitUsage;
  }
  LogOptions options;
  if (g_log_level != nullptr) {
    auto level = ParseLogLevel(*g_log_level);
    if (!level.ok()) {
      PrintError(app, std::string(level.status().message()));
      return kExitUsage;
    }
    options.level = *level;
  }
  InitLogging(options);
  return -1;
}

void PrintError(const CLI::App& app, const std::string& message) {
  std::cerr << app.get_name() << ": " << message << "\n";
}

}  // namespace bulkhead
