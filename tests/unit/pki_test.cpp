// common/pki: the one rule for who a certificate names (exactly one CN),
// serials, validity, renewal and the signed revocation list.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/file.h"
#include "common/pki/certificates.h"
#include "common/pki/identity.h"
#include "common/pki/revocation.h"
#include "tests/support/command.h"
#include "tests/support/subject_certificate.h"

namespace bulkhead::pki {
namespace {

class Scratch {
 public:
  Scratch() {
    std::string pattern = "/tmp/bulkhead-pki-test-XXXXXX";
    path_ = ::mkdtemp(pattern.data());
  }
  ~Scratch() { std::filesystem::remove_all(path_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Status InitIn(const std::string& dir) {
  CaOptions options;
  options.dir = dir;
  return InitCa(options).status();
}

StatusOr<IssuedFiles> Issue(const std::string& dir, Role role,
                            std::vector<std::string> hosts = {}) {
  IssueOptions options;
  options.dir = dir;
  options.role = std::move(role);
  options.hosts = std::move(hosts);
  return IssueCertificate(options);
}

StatusOr<IssuedFiles> Renew(const std::string& dir, const std::string& stem,
                            std::chrono::seconds lifetime = kDefaultLeafLifetime) {
  RenewOptions options;
  options.dir = dir;
  options.stem = stem;
  options.lifetime = lifetime;
  return RenewCertificate(options);
}

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitIn(dir_.path()).ok()); }
  [[nodiscard]] const std::string& dir() const { return dir_.path(); }
  [[nodiscard]] StatusOr<CertificateIdentity> IdentityOfFile(const std::string& path) const {
    BH_ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
    return IdentityOfPem(pem);
  }
  [[nodiscard]] std::string Subject(const std::string& subject, const std::string& stem) const {
    return testing::IssueWithSubject(dir() + "/ca.crt", dir() + "/ca.key", subject,
                                     dir() + "/" + stem);
  }
  Scratch dir_;
};

TEST_F(PkiTest, ExactlyOneCommonName) {
  auto issued = Issue(dir(), {Role::Kind::kTenant, "team-a"});
  ASSERT_TRUE(issued.ok()) << issued.status();
  auto one = IdentityOfFile(issued->certificate);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->common_name, "tenant:team-a");
  EXPECT_EQ(one->organizations, std::vector<std::string>{"Bulkhead"});
  EXPECT_EQ(one->serial, issued->serial);
  EXPECT_EQ(RoleOf(*one)->tenant, "team-a");

  // Two CNs: the agent used to read the first, the control plane the last.
  for (const char* subject : {"/O=Bulkhead/CN=tenant:team-a/CN=admin",
                              "/O=Bulkhead/CN=admin/CN=tenant:team-a", "/CN=admin/CN=admin"}) {
    ASSERT_EQ(Subject(subject, "two"), "");
    auto two = IdentityOfFile(dir() + "/two.crt");
    ASSERT_FALSE(two.ok()) << subject;
    EXPECT_TRUE(absl::IsUnauthenticated(two.status()));
    EXPECT_NE(MessageOf(two.status()).find("more than one common name"), std::string::npos)
        << two.status();
  }
  ASSERT_EQ(Subject("/O=Bulkhead/O=system:masters", "none"), "");
  auto none = IdentityOfFile(dir() + "/none.crt");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(MessageOf(none.status()).find("no common name"), std::string::npos) << none.status();
  // Groups in order, one CN: accepted (the control plane's users).
  ASSERT_EQ(Subject("/O=system:masters/O=team/CN=jane", "user"), "");
  auto user = IdentityOfFile(dir() + "/user.crt");
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->common_name, "jane");
  EXPECT_EQ(user->organizations, (std::vector<std::string>{"system:masters", "team"}));
  EXPECT_EQ(user->serial, "5EED0001");
  EXPECT_TRUE(absl::IsUnauthenticated(RoleOf(*user).status()));
  EXPECT_TRUE(absl::IsUnauthenticated(IdentityOfPem("not a certificate").status()));
}

TEST(PkiSerial, Normalized) {
  EXPECT_EQ(*NormalizeSerial("5eed0001"), "5EED0001");
  EXPECT_EQ(*NormalizeSerial("0x005E:ED:00:01"), "5EED0001");
  EXPECT_EQ(*NormalizeSerial("00"), "0");
  for (const char* bad : {"", "0x", "xyz", "12 34", "-1", ":"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(NormalizeSerial(bad).status())) << bad;
  }
}

TEST(PkiValidity, Parsed) {
  EXPECT_EQ(*ParseValidity("7d"), std::chrono::hours(24 * 7));
  EXPECT_EQ(*ParseValidity("12h"), std::chrono::hours(12));
  EXPECT_EQ(*ParseValidity("30m"), std::chrono::minutes(30));
  EXPECT_EQ(*ParseValidity("365d"), std::chrono::hours(24 * 365));
  for (const char* bad : {"", "d", "0d", "366d", "7", "7w", "-1d", "1.5d"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseValidity(bad).status())) << bad;
  }
}

TEST_F(PkiTest, LeavesAreShortLivedByDefault) {
  auto issued = Issue(dir(), {Role::Kind::kAdmin, ""});
  ASSERT_TRUE(issued.ok());
  auto end = testing::RunCommand({"/usr/bin/openssl", "x509", "-noout", "-checkend",
                                  std::to_string(8 * 86400), "-in", issued->certificate});
  EXPECT_EQ(end.exit_code, 1) << "an admin certificate outlives 8 days: " << end.out;
  auto start = testing::RunCommand({"/usr/bin/openssl", "x509", "-noout", "-checkend",
                                    std::to_string(6 * 86400), "-in", issued->certificate});
  EXPECT_EQ(start.exit_code, 0) << start.out;
}

TEST_F(PkiTest, RenewKeepsTheRoleAndHostsWithANewKeyAndSerial) {
  auto first = Issue(dir(), {Role::Kind::kAgent, ""}, {"node-1.example", "10.9.8.7"});
  ASSERT_TRUE(first.ok());
  std::string old_key = *ReadFile(first->key);
  auto renewed = Renew(dir(), "agent", std::chrono::hours(12));
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_NE(renewed->serial, first->serial);
  EXPECT_NE(*ReadFile(renewed->key), old_key);
  auto text = testing::RunCommand(
      {"/usr/bin/openssl", "x509", "-noout", "-text", "-in", renewed->certificate});
  for (const char* want : {"CN = agent", "DNS:node-1.example", "IP Address:10.9.8.7",
                           "DNS:localhost", "TLS Web Server Authentication"}) {
    EXPECT_NE(text.out.find(want), std::string::npos) << want << "\n" << text.out;
  }
  EXPECT_EQ(text.out.find("DNS:localhost, DNS:localhost"), std::string::npos) << text.out;
  EXPECT_FALSE(Renew(dir(), "nobody").ok());
}

TEST_F(PkiTest, RevocationListIsSignedAndKeepsEverySerial) {
  auto a = Issue(dir(), {Role::Kind::kTenant, "team-a"});
  auto b = Issue(dir(), {Role::Kind::kTenant, "team-b"});
  ASSERT_TRUE(a.ok() && b.ok());
  auto first = Revoke(dir(), a->serial);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->added);
  EXPECT_EQ(first->list, dir() + "/revoked.crl");
  // By certificate file too; twice is no error.
  auto second = Revoke(dir(), b->certificate);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->serial, b->serial);
  EXPECT_FALSE(Revoke(dir(), b->serial)->added);
  std::string crl = *ReadFile(first->list);
  std::string ca = *ReadFile(dir() + "/ca.crt");
  auto serials = RevokedSerials(crl, ca);
  ASSERT_TRUE(serials.ok()) << serials.status();
  EXPECT_EQ(*serials, (std::set<std::string>{a->serial, b->serial}));
  // openssl reads it as a CRL of this CA.
  auto verify = testing::RunCommand(
      {"/usr/bin/openssl", "crl", "-noout", "-CAfile", dir() + "/ca.crt", "-in", first->list});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.err.find("verify OK"), std::string::npos) << verify.err;

  // A list signed by another CA, or not a list, is refused.
  Scratch other;
  ASSERT_TRUE(InitIn(other.path()).ok());
  ASSERT_TRUE(Revoke(other.path(), "1234").ok());
  auto forged = RevokedSerials(*ReadFile(other.path() + "/revoked.crl"), ca);
  EXPECT_TRUE(absl::IsInvalidArgument(forged.status())) << forged.status();
  EXPECT_TRUE(absl::IsInvalidArgument(RevokedSerials("junk", ca).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Revoke(dir(), "not-a-serial").status()));
}

}  // namespace
}  // namespace bulkhead::pki
