#include "common/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace bulkhead {
namespace {

TEST(ErrnoError, MapsErrnoToCodeAndKeepsContext) {
  Status status = ErrnoError(ENOENT, "open /sys/fs/bpf/bulkhead");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(MessageOf(status), "open /sys/fs/bpf/bulkhead: No such file or directory (errno 2)");
  EXPECT_EQ(ErrnoOf(status), ENOENT);
  ASSERT_TRUE(LocationOf(status).has_value());
  EXPECT_EQ(LocationOf(status)->rfind("status_test.cpp:", 0), 0U) << *LocationOf(status);
}

TEST(ErrnoError, CodesForCommonErrnos) {
  EXPECT_EQ(ErrnoError(EPERM, "x").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoError(EACCES, "x").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoError(EEXIST, "x").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrnoError(ENOSPC, "x").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoError(E2BIG, "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrnoError(EOPNOTSUPP, "x").code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ErrnoError(EBUSY, "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrnoError(EIO, "x").code(), absl::StatusCode::kInternal);
}

TEST(ErrnoOf, AbsentOnPlainStatus) {
  EXPECT_FALSE(ErrnoOf(absl::InvalidArgumentError("bad")).has_value());
  EXPECT_FALSE(LocationOf(absl::OkStatus()).has_value());
}

TEST(Annotate, PrefixesMessageAndKeepsPayloads) {
  Status annotated = Annotate(ErrnoError(EPERM, "bpf(BPF_PROG_LOAD)"), "load netpol");
  EXPECT_EQ(annotated.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(MessageOf(annotated),
            "load netpol: bpf(BPF_PROG_LOAD): Operation not permitted (errno 1)");
  EXPECT_EQ(ErrnoOf(annotated), EPERM);
  EXPECT_TRUE(Annotate(absl::OkStatus(), "x").ok());
}

StatusOr<int> Half(int value) {
  if (value % 2 != 0) {
    return absl::InvalidArgumentError("odd");
  }
  return value / 2;
}

StatusOr<int> Quarter(int value) {
  BH_ASSIGN_OR_RETURN(int half, Half(value));
  BH_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int value) {
  BH_RETURN_IF_ERROR(Half(value).status());
  return absl::OkStatus();
}

TEST(StatusMacros, PropagateFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(MessageOf(CheckEven(3)), "odd");
}

TEST(StatusFormat, FmtPrintsStatus) {
  EXPECT_EQ(fmt::format("{}", absl::NotFoundError("tenant team-a")), "NOT_FOUND: tenant team-a");
}

}  // namespace
}  // namespace bulkhead
