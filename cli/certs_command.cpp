// `bulkhead certs`: the platform CA and the certificates it issues.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "common/cli.h"
#include "common/pki/certificates.h"
#include "common/pki/revocation.h"

namespace bulkhead::cli {

std::vector<Command> AddCertsCommands(CLI::App& root) {
  auto* certs = root.add_subcommand("certs", "Create the platform CA and issue certificates");
  certs->require_subcommand(1);
  certs->footer(
      "The CA's directory (with ca.key) stays with the admin; a node gets only ca.crt, its own\n"
      "agent.crt/agent.key and revoked.crl.\n"
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
    std::string valid_for = "7d";
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
  issue
      ->add_option("--valid-for", issue_flags->valid_for,
                   "Validity: minutes, hours or days, e.g. 12h, 7d (at most 365d); renew before "
                   "it ends")
      ->capture_default_str();
  issue->add_option("--name", issue_flags->name,
                    "File stem (default from the role: admin, agent, tenant-<name>, ...)");
  issue->footer(
      "Writes <dir>/<stem>.crt and <dir>/<stem>.key, replacing them atomically (an agent\n"
      "reloads a rotated agent.crt/agent.key by itself), and prints the paths and the serial.\n"
      "Examples:\n  bulkhead certs issue --role tenant:team-a --dir ./pki\n"
      "  bulkhead certs issue --role agent --host node-1.example --dir ./pki");

  struct RenewFlags {
    std::string dir;
    std::string name;
    std::string valid_for = "7d";
  };
  auto renew_flags = std::make_shared<RenewFlags>();
  auto* renew = certs->add_subcommand(
      "renew",
      "Issue a certificate again with a new key, for the role and host names of the one there");
  renew->add_option("--dir", renew_flags->dir, "Directory holding ca.crt and ca.key")->required();
  renew->add_option("--name", renew_flags->name, "File stem: agent, admin, tenant-team-a, ...")
      ->required();
  renew->add_option("--valid-for", renew_flags->valid_for, "Validity, e.g. 12h, 7d (at most 365d)")
      ->capture_default_str();
  renew->footer(
      "Replaces <dir>/<name>.crt and .key atomically; an agent given the new agent.crt/.key\n"
      "serves them without a restart. The old certificate is valid until it expires: revoke\n"
      "its serial to end it now.\n"
      "Example:\n  bulkhead certs renew --dir ./pki --name agent --valid-for 7d");

  struct RevokeFlags {
    std::string dir;
    std::string serial;
  };
  auto revoke_flags = std::make_shared<RevokeFlags>();
  auto* revoke = certs->add_subcommand(
      "revoke", "Add a certificate's serial to the revocation list <dir>/revoked.crl");
  revoke
      ->add_option("serial", revoke_flags->serial,
                   "Serial as 'certs issue' printed it (hex), or the certificate file")
      ->required();
  revoke->add_option("--dir", revoke_flags->dir, "Directory holding ca.crt and ca.key")->required();
  revoke->footer(
      "The list is signed by the CA. Copy <dir>/revoked.crl into every agent's --certs-dir:\n"
      "the agent re-reads it, refuses the serial on every call and ends its open streams.\n"
      "Examples:\n  bulkhead certs revoke 5A0C7E19D4 --dir ./pki\n"
      "  bulkhead certs revoke ./pki/tenant-team-a.crt --dir ./pki");

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
                        auto lifetime = pki::ParseValidity(issue_flags->valid_for);
                        if (!lifetime.ok()) {
                          PrintCommandError(*issue, "--valid-for: " + MessageOf(lifetime.status()));
                          return kExitUsage;
                        }
                        options.lifetime = *lifetime;
                        options.stem = issue_flags->name;
                        auto files = pki::IssueCertificate(options);
                        if (!files.ok()) {
                          PrintCommandError(*issue, MessageOf(files.status()));
                          return kExitFailure;
                        }
                        std::cout << files->certificate << "\n"
                                  << files->key << "\nserial " << files->serial << "\n";
                        return kExitOk;
                      }});
  commands.push_back(
      {renew, [renew, renew_flags]() {
         auto lifetime = pki::ParseValidity(renew_flags->valid_for);
         if (!lifetime.ok()) {
           PrintCommandError(*renew, "--valid-for: " + MessageOf(lifetime.status()));
           return kExitUsage;
         }
         auto files = pki::RenewCertificate({renew_flags->dir, renew_flags->name, *lifetime});
         if (!files.ok()) {
           PrintCommandError(*renew, MessageOf(files.status()));
           return kExitFailure;
         }
         std::cout << files->certificate << "\n"
                   << files->key << "\nserial " << files->serial << "\n";
         return kExitOk;
       }});
  commands.push_back({revoke, [revoke, revoke_flags]() {
                        auto revoked = pki::Revoke(revoke_flags->dir, revoke_flags->serial);
                        if (!revoked.ok()) {
                          PrintCommandError(*revoke, MessageOf(revoked.status()));
                          return absl::IsInvalidArgument(revoked.status()) ? kExitUsage
                                                                           : kExitFailure;
                        }
                        std::cout << revoked->list << "\n"
                                  << (revoked->added ? "revoked " : "already revoked ")
                                  << revoked->serial << "\n";
                        return kExitOk;
                      }});
  return commands;
}

}  // namespace bulkhead::cli
