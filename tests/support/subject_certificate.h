// Client certificates with a subject of the test's choosing (two CNs, no
// CN, ...), signed by a given CA with the openssl command, for the tests
// of how servers read a certificate's subject.
#ifndef BULKHEAD_TESTS_SUPPORT_SUBJECT_CERTIFICATE_H_
#define BULKHEAD_TESTS_SUPPORT_SUBJECT_CERTIFICATE_H_

#include <string>

namespace bulkhead::testing {

// Writes <out_stem>.crt and <out_stem>.key: subject `subject` in openssl's
// form ("/O=Bulkhead/CN=admin/CN=tenant:team-a"), clientAuth, valid for a
// day, signed by ca_cert/ca_key. Returns the openssl errors, empty on
// success.
std::string IssueWithSubject(const std::string& ca_cert, const std::string& ca_key,
                             const std::string& subject, const std::string& out_stem);

}  // namespace bulkhead::testing

#endif  // BULKHEAD_TESTS_SUPPORT_SUBJECT_CERTIFICATE_H_
