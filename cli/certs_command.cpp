// `bulkhead certs`: the platform CA and the certificates it issues.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "common/cli.h"
#include "common/pki/certificates.h"

namespace bulkhead::cli {

std::vector<Command> AddCertsCommands(CLI::App& root) {
  auto* certs = root.add_subcommand("certs", "Create the platform CA and issue certificates");
  certs->require_subcommand(1);
  certs->footer(
      "Example:\n  bulkhead certs init --dir ./pki && bulkhead certs issue --role admin --dir "
      "./pki");

  struct InitFlags {
    std::string dir;
    int days = 5 * 365;
    bool force = false;
  };
  auto init_flags = std::make_shared<InitFlags>();
  auto* init = certs->add_subcommand(
      "init", "Create the platform CA (ca.crt and ca.key, the key 0600) in a directory");
  init->add_option("--dir", init_flags->dir, "Directory for the CA (created 0700)")->required();
  init->add_option("--days", init_flags->days, "Validity in days")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  init->add_flag("--force", init_flags->force,
                 "Replace an existing CA (every certificate it issued stops working)");
  init->footer("Example:\n  bulkhead certs init --dir /etc/bulkhead/pki");

  struct IssueFlags {
    std::string dir;
    std::string role;
    std::vector<std::string> hosts;
    int days = 365;
    std::string name;
  };
  auto issue_flags = std::make_shared<IssueFlags>();
  auto* issue = certs->add_subcommand(
      "issue",
      "Issue a certificate and key (0600) signed by the CA in --dir; the role is in the "
      "certificate");
  issue
      ->add_option("--role", issue_flags->role,
                   "admin, agent, tenant:<name> or controlplane:<name>")
      ->required();
  issue->add_option("--dir", issue_flags->dir, "Directory holding ca.crt and ca.key")->required();
  issue->add_option("--host", issue_flags->hosts,
                    "Extra DNS name or IP address for an agent certificate (repeatable; "
                    "localhost and 127.0.0.1 are always in it)");
  issue->add_option("--days", issue_flags->days, "Validity in days")
      ->check(CLI::Range(1, 3650))
      ->capture_default_str();
  issue->add_option("--name", issue_flags->name,
                    "File stem (default from the role: admin, agent, tenant-<name>, ...)");
  issue->footer(
      "Writes <dir>/<stem>.crt and <dir>/<stem>.key, replacing them atomically (an agent\n"
      "reloads a rotated agent.crt/agent.key by itself).\n"
      "Examples:\n  bulkhead certs issue --role tenant:team-a --dir ./pki\n"
      "  bulkhead certs issue --role agent --host node-1.example --dir ./pki");

  std::vector<Command> commands;
  commands.push_back({init, [init, init_flags]() {
                        pki::CaOptions options;
                        options.dir = init_flags->dir;
                        options.lifetime = std::chrono::hours(24 * init_flags->days);
                        options.overwrite = init_flags->force;
                        auto files = pki::InitCa(options);
                        if (!files.ok()) {
                          PrintCommandError(*init, MessageOf(files.status()));
                          return kExitFailure;
                        }
                        std::cout << files->certificate << "\n" << files->key << "\n";
                        return kExitOk;
                      }});
  commands.push_back({issue, [issue, issue_flags]() {
                        auto role = pki::ParseRole(issue_flags->role);
                        if (!role.ok()) {
                          PrintCommandError(*issue, MessageOf(role.status()));
                          return kExitUsage;
                        }
                        pki::IssueOptions options;
                        options.dir = issue_flags->dir;
                        options.role = *role;
                        options.hosts = issue_flags->hosts;
                        options.lifetime = std::chrono::hours(24 * issue_flags->days);
                        options.stem = issue_flags->name;
                        auto files = pki::IssueCertificate(options);
                        if (!files.ok()) {
                          PrintCommandError(*issue, MessageOf(files.status()));
                          return kExitFailure;
                        }
                        std::cout << files->certificate << "\n" << files->key << "\n";
                        return kExitOk;
                      }});
  return commands;
}

}  // namespace bulkhead::cli
