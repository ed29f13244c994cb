// Protobuf request bodies as kubectl's generator commands send them: the
// "k8s\0" envelope (runtime.Unknown) around an object, decoded to JSON.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "controlplane/apiserver/protobuf_body.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

std::string Varint(uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
  return out;
}

std::string Bytes(int field, const std::string& data) {
  return Varint((static_cast<uint64_t>(field) << 3) | 2) + Varint(data.size()) + data;
}

std::string Int(int field, uint64_t value) {
  return Varint(static_cast<uint64_t>(field) << 3) + Varint(value);
}

std::string Envelope(const std::string& api_version, const std::string& kind,
                     const std::string& raw) {
  return std::string("k8s\0", 4) + Bytes(1, Bytes(1, api_version) + Bytes(2, kind)) + Bytes(2, raw);
}

TEST(ProtobufBody, ConfigMapWithMapsAndEmptyStringsLeftOut) {
  std::string metadata =
      Bytes(1, "settings") + Bytes(2, "") + Bytes(11, Bytes(1, "app") + Bytes(2, "web"));
  std::string raw = Bytes(1, metadata) + Bytes(2, Bytes(1, "color") + Bytes(2, "blue")) +
                    Bytes(3, Bytes(1, "bin") + Bytes(2, std::string("\x01\x02", 2)));
  auto object = DecodeProtobufObject(Envelope("v1", "ConfigMap", raw));
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(json::value(*object),
            json::parse(R"({"metadata":{"name":"settings","labels":{"app":"web"}},
      "data":{"color":"blue"},"binaryData":{"bin":"AQI="},"apiVersion":"v1","kind":"ConfigMap"})"));
}

TEST(ProtobufBody, InvalidUtf8InAStringOrMapKeyIsRefused) {
  // Stored, such text could not be read back as JSON (the object was lost to
  // every reader); it is refused when the body is read.
  const std::string bad("\xff\xfe", 2);
  for (const std::string& metadata :
       {Bytes(1, "a" + bad), Bytes(1, "ok") + Bytes(11, Bytes(1, bad) + Bytes(2, "web")),
        Bytes(1, "ok") + Bytes(11, Bytes(1, "app") + Bytes(2, bad))}) {
    auto object = DecodeProtobufObject(Envelope("v1", "ConfigMap", Bytes(1, metadata)));
    EXPECT_EQ(object.status().code(), absl::StatusCode::kInvalidArgument);
  }
  auto data = DecodeProtobufObject(Envelope(
      "v1", "ConfigMap", Bytes(1, Bytes(1, "ok")) + Bytes(2, Bytes(1, "k") + Bytes(2, bad))));
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  auto fine = DecodeProtobufObject(Envelope("v1", "ConfigMap", Bytes(1, Bytes(1, "caf\xc3\xa9"))));
  EXPECT_TRUE(fine.ok()) << fine.status();
}

TEST(ProtobufBody, DeploymentWithNestedMessagesRepeatedFieldsAndIntOrString) {
  std::string container =
      Bytes(1, "web") + Bytes(2, "nginx") + Bytes(6, Int(3, 80) + Bytes(4, "TCP"));
  std::string pod_spec = Bytes(2, container);
  std::string tmpl = Bytes(1, Bytes(11, Bytes(1, "app") + Bytes(2, "web"))) + Bytes(2, pod_spec);
  std::string spec = Int(1, 0) + Bytes(2, Bytes(1, Bytes(1, "app") + Bytes(2, "web"))) +
                     Bytes(3, tmpl) + Bytes(4, "");
  std::string raw = Bytes(1, Bytes(1, "web")) + Bytes(2, spec) + Bytes(3, "");
  auto object = DecodeProtobufObject(Envelope("apps/v1", "Deployment", raw));
  ASSERT_TRUE(object.ok()) << object.status();
  json::value doc(*object);
  EXPECT_EQ(doc.at_pointer("/spec/replicas"), 0);  // an explicit 0 is kept for replicas
  EXPECT_EQ(doc.at_pointer("/spec/selector/matchLabels/app"), "web");
  EXPECT_EQ(doc.at_pointer("/spec/template/spec/containers/0/ports/0/containerPort"), 80);
  EXPECT_EQ(doc.at_pointer("/spec/strategy"), json::object());
  EXPECT_EQ(doc.at_pointer("/status"), json::object());

  std::string port = Bytes(1, "http") + Int(3, 80) + Bytes(4, Int(1, 1) + Bytes(3, "web"));
  auto service = DecodeProtobufObject(
      Envelope("v1", "Service", Bytes(1, Bytes(1, "svc")) + Bytes(2, Bytes(1, port))));
  ASSERT_TRUE(service.ok()) << service.status();
  EXPECT_EQ(json::value(*service).at_pointer("/spec/ports/0/targetPort"), "web");
}

TEST(ProtobufBody, BrokenOrUnknownBodiesAreErrors) {
  EXPECT_FALSE(DecodeProtobufObject("{\"kind\":\"ConfigMap\"}").ok());
  EXPECT_FALSE(DecodeProtobufObject(Envelope("example.com/v1", "Widget", "")).ok());
  std::string truncated = Envelope("v1", "ConfigMap", Bytes(1, Bytes(1, "settings")));
  truncated.resize(truncated.size() - 3);
  EXPECT_FALSE(DecodeProtobufObject(truncated).ok());
}

}  // namespace
}  // namespace bulkhead::controlplane
