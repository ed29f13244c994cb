// The in-process client and informer over a real store (ApiHarness): a
// client write follows the rules HTTP writes do; an informer tells every
// change in order, and after a compaction that ends its watch (410) it
// lists again and tells the difference, missing nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controlplane/apiserver/api_errors.h"
#include "controlplane/apiserver/object_meta.h"
#include "controlplane/apiserver/registry/client.h"
#include "controlplane/apiserver/registry/informer.h"
#include "tests/unit/controlplane_api_harness.h"

namespace bulkhead::controlplane::testing {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

const ObjectRef kConfigMaps{"", "v1", "configmaps", "default", "", ""};

json::object ConfigMap(const std::string& name, const std::string& value = "1") {
  return json::object{{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"metadata", json::object{{"name", name}}},
                      {"data", json::object{{"a", value}}}};
}

ObjectRef Named(ObjectRef ref, const std::string& name) {
  ref.name = name;
  return ref;
}

// What an informer told, as "ADDED a", "MODIFIED a", "DELETED b".
class Recorder {
 public:
  void operator()(const InformerEvent& event) {
    static const char* kNames[] = {"ADDED", "MODIFIED", "DELETED"};
    std::lock_guard lock(mu_);
    told_.push_back(std::string(kNames[static_cast<int>(event.type)]) + " " +
                    MetaString(*event.object, "name"));
    changed_.notify_all();
  }
  std::vector<std::string> WaitFor(size_t count) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, milliseconds(10000), [&] { return told_.size() >= count; });
    return told_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> told_;
};

TEST(ClientTest, WritesFollowTheRulesOfHttpWrites) {
  ApiHarness api;
  Client client(api.api().objects());
  auto created = client.Create(kConfigMaps, ConfigMap("one"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(MetaString(*created, "uid").empty());
  EXPECT_EQ(MetaString(*created, "namespace"), "default");
  // The same object twice, a missing namespace, a bad name: the API errors.
  EXPECT_EQ(ToHttpError(client.Create(kConfigMaps, ConfigMap("one")).status()).code, 409);
  ObjectRef elsewhere = kConfigMaps;
  elsewhere.namespace_name = "none";
  EXPECT_EQ(ToHttpError(client.Create(elsewhere, ConfigMap("one")).status()).code, 404);
  EXPECT_EQ(ToHttpError(client.Create(kConfigMaps, ConfigMap("Not_A_Name")).status()).code, 422);
  // Mutate reads, edits and writes; the HTTP API sees the change.
  auto changed = client.Mutate(Named(kConfigMaps, "one"), [](json::object& object) {
    object["data"].as_object()["a"] = "2";
    return absl::OkStatus();
  });
  ASSERT_TRUE(changed.ok()) << changed.status();
  Recorded got = api.Call("GET", "/api/v1/namespaces/default/configmaps/one");
  EXPECT_EQ(got.Json().at("data").at("a"), "2");
  // An update with a stale resourceVersion is a conflict.
  json::object stale = *created;
  stale["data"].as_object()["a"] = "3";
  EXPECT_EQ(ToHttpError(client.Update(Named(kConfigMaps, "one"), stale).status()).code, 409);
  int64_t revision = 0;
  auto listed = client.List(kConfigMaps, &revision);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1U);
  EXPECT_EQ(revision, api.store().Revision());
  ASSERT_TRUE(client.Delete(Named(kConfigMaps, "one")).ok());
  EXPECT_EQ(ToHttpError(client.Get(Named(kConfigMaps, "one")).status()).code, 404);
  EXPECT_EQ(ToHttpError(client.Target({"", "v1", "widgets", "", "", ""}).status()).code, 404);
}

TEST(InformerTest, TellsTheListThenEveryChangeInOrder) {
  ApiHarness api;
  Client client(api.api().objects());
  ASSERT_TRUE(client.Create(kConfigMaps, ConfigMap("a")).ok());
  Informer informer(client, kConfigMaps);
  Recorder recorder;
  informer.AddHandler([&](const InformerEvent& event) { recorder(event); });
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(milliseconds(10000)));
  ASSERT_TRUE(client.Create(kConfigMaps, ConfigMap("b")).ok());
  ASSERT_TRUE(client
                  .Mutate(Named(kConfigMaps, "a"),
                          [](json::object& object) {
                            object["data"].as_object()["a"] = "2";
                            return absl::OkStatus();
                          })
                  .ok());
  ASSERT_TRUE(client.Delete(Named(kConfigMaps, "b")).ok());
  EXPECT_EQ(recorder.WaitFor(4),
            (std::vector<std::string>{"ADDED a", "ADDED b", "MODIFIED a", "DELETED b"}));
  ASSERT_NE(informer.Get("default", "a"), nullptr);
  EXPECT_EQ(informer.Get("default", "a")->at("data").at("a"), "2");
  EXPECT_EQ(informer.Get("default", "b"), nullptr);
  EXPECT_EQ(informer.List().size(), 1U);
  EXPECT_EQ(informer.lists(), 1);
}

TEST(InformerTest, AfterTheWatchFallsBehindItListsAgainAndTellsTheDifference) {
  // A watcher may fall 2 events behind: the informer's handler holds its
  // thread while more happen, so its watch ends and it must list again.
  SqliteStoreOptions store;
  store.watch_max_queue = 2;
  ApiHarness api({}, store);
  Client client(api.api().objects());
  ASSERT_TRUE(client.Create(kConfigMaps, ConfigMap("kept")).ok());
  ASSERT_TRUE(client.Create(kConfigMaps, ConfigMap("gone")).ok());
  Informer informer(client, kConfigMaps);
  Recorder recorder;
  std::mutex mu;
  std::condition_variable changed;
  bool blocked = false;
  bool release = false;
  informer.AddHandler([&](const InformerEvent& event) {
    if (event.type == InformerEvent::Type::kAdded && MetaString(*event.object, "name") == "new-0") {
      // Held here until the test has made its changes.
      std::unique_lock lock(mu);
      blocked = true;
      changed.notify_all();
      changed.wait(lock, [&] { return release; });
    }
    recorder(event);
  });
  // Released however the test ends, before the informer is stopped.
  auto free_handler = [&] {
    {
      std::lock_guard lock(mu);
      release = true;
    }
    changed.notify_all();
  };
  std::unique_ptr<void, std::function<void(void*)>> releaser(&mu, [&](void*) { free_handler(); });
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(milliseconds(10000)));
  ASSERT_TRUE(client.Create(kConfigMaps, ConfigMap("new-0")).ok());
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(changed.wait_for(lock, milliseconds(10000), [&] { return blocked; }));
  }
  for (int i = 1; i < 6; ++i) {
    ASSERT_TRUE(client.Create(kConfigMaps, ConfigMap("new-" + std::to_string(i))).ok());
  }
  ASSERT_TRUE(client.Delete(Named(kConfigMaps, "gone")).ok());
  free_handler();
  // The list of the start (2), new-0 from the watch, then whatever the
  // relist finds different: new-1..5 added and gone deleted, in some order.
  std::vector<std::string> told = recorder.WaitFor(2 + 1 + 5 + 1);
  ASSERT_EQ(told.size(), 9U) << ::testing::PrintToString(told);
  std::sort(told.begin() + 3, told.end());
  EXPECT_EQ(told, (std::vector<std::string>{"ADDED gone", "ADDED kept", "ADDED new-0",
                                            "ADDED new-1", "ADDED new-2", "ADDED new-3",
                                            "ADDED new-4", "ADDED new-5", "DELETED gone"}));
  EXPECT_GE(informer.lists(), 2);
  EXPECT_EQ(informer.List().size(), 7U);
}

}  // namespace
}  // namespace bulkhead::controlplane::testing
