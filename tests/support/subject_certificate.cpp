#include "tests/support/subject_certificate.h"

#include <fstream>

#include "tests/support/command.h"

namespace bulkhead::testing {

std::string IssueWithSubject(const std::string& ca_cert, const std::string& ca_key,
                             const std::string& subject, const std::string& out_stem) {
  std::string key = out_stem + ".key";
  std::string csr = out_stem + ".csr";
  std::string ext = out_stem + ".ext";
  std::ofstream(ext) << "basicConstraints=critical,CA:FALSE\n"
                        "keyUsage=critical,digitalSignature\n"
                        "extendedKeyUsage=clientAuth\n";
  auto request = RunCommand({"/usr/bin/openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                             "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-subj", subject,
                             "-out", csr});
  if (request.exit_code != 0) {
    return "openssl req: " + request.err;
  }
  auto sign = RunCommand({"/usr/bin/openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey",
                          ca_key, "-set_serial", "0x5eed0001", "-days", "1", "-sha256", "-extfile",
                          ext, "-out", out_stem + ".crt"});
  if (sign.exit_code != 0) {
    return "openssl x509: " + sign.err;
  }
  return {};
}

}  // namespace bulkhead::testing
