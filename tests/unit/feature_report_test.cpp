#include <gtest/gtest.h>

#include "agent/check/feature_probe.h"
#include "nlohmann/json.hpp"

namespace bulkhead::agent {
namespace {

v1::FeatureReport SampleReport(bool btf_present) {
  v1::FeatureReport report;
  report.set_node("node-1");
  report.set_kernel_release("6.1.0");
  auto* syscall = report.add_features();
  syscall->set_name("bpf_syscall");
  syscall->set_present(true);
  syscall->set_required(true);
  syscall->set_detail("bpf(2) loads programs");
  auto* btf = report.add_features();
  btf->set_name("btf");
  btf->set_present(btf_present);
  btf->set_required(true);
  btf->set_detail(btf_present ? "present" : "/sys/kernel/btf/vmlinux is missing");
  btf->set_remedy(btf_present ? "" : "use a kernel built with CONFIG_DEBUG_INFO_BTF=y");
  auto* bpffs = report.add_features();
  bpffs->set_name("bpffs");
  bpffs->set_present(false);
  bpffs->set_required(false);
  bpffs->set_remedy("mount -t bpf bpf /sys/fs/bpf");
  report.set_ready(btf_present);
  return report;
}

TEST(FormatFeatureReport, ReadyReportListsEveryFeature) {
  std::string text = FormatFeatureReport(SampleReport(true));
  EXPECT_NE(text.find("NODE node-1  KERNEL 6.1.0"), std::string::npos) << text;
  EXPECT_NE(text.find("bpf_syscall            ok       bpf(2) loads programs"), std::string::npos)
      << text;
  EXPECT_NE(text.find("bpffs                  missing"), std::string::npos) << text;
  EXPECT_NE(text.find("bpffs: mount -t bpf bpf /sys/fs/bpf"), std::string::npos) << text;
  EXPECT_NE(text.find("ready: this node has every kernel feature"), std::string::npos) << text;
}

TEST(FormatFeatureReport, MissingRequiredFeatureSaysWhatToDo) {
  std::string text = FormatFeatureReport(SampleReport(false));
  EXPECT_NE(text.find("btf                    MISSING  /sys/kernel/btf/vmlinux is missing"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("btf: use a kernel built with CONFIG_DEBUG_INFO_BTF=y"), std::string::npos);
  EXPECT_NE(text.find("not ready: 1 required feature(s) missing"), std::string::npos) << text;
}

TEST(FeatureReportJson, UsesProtoFieldNames) {
  auto json = FeatureReportJson(SampleReport(false));
  ASSERT_TRUE(json.ok());
  auto doc = nlohmann::json::parse(*json);
  EXPECT_EQ(doc["node"], "node-1");
  EXPECT_EQ(doc["ready"], false);
  ASSERT_EQ(doc["features"].size(), 3U);
  EXPECT_EQ(doc["features"][1]["name"], "btf");
  EXPECT_EQ(doc["features"][1]["present"], false);
  EXPECT_EQ(doc["features"][1]["required"], true);
}

}  // namespace
}  // namespace bulkhead::agent
