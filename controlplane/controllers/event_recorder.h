// Records core/v1 Events about objects, as Kubernetes components do, so
// that `kubectl describe` and `kubectl get events` show why something
// happened (FailedScheduling, NodeNotReady, ...). An event repeated for the
// same object, reason and message within ten minutes is counted on the
// event already written (count and lastTimestamp), not written again: a
// controller retrying in a loop never floods the store.
#ifndef BULKHEAD_CONTROLPLANE_CONTROLLERS_EVENT_RECORDER_H_
#define BULKHEAD_CONTROLPLANE_CONTROLLERS_EVENT_RECORDER_H_

#include <boost/json/object.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "controlplane/apiserver/registry/client.h"

namespace bulkhead::controlplane::controllers {

inline const ObjectRef kEventsRef{"", "v1", "events", "", "", ""};

class EventRecorder {
 public:
  // `component`: source.component and reportingComponent of every event.
  EventRecorder(Client& client, std::string component)
      : client_(client), component_(std::move(component)) {}

  // `type`: "Normal" or "Warning". `involved` is the object's JSON (its
  // apiVersion, kind, namespace, name, uid and resourceVersion are named).
  // A failure to write is logged, never returned: an event is a note.
  void Record(const boost::json::object& involved, const std::string& type,
              const std::string& reason, const std::string& message);

 private:
  struct Written {
    std::string namespace_name;
    std::string name;
    std::chrono::steady_clock::time_point at;
  };

  Client& client_;
  const std::string component_;
  std::mutex mutex_;
  std::map<std::string, Written> written_;  // by uid, reason and message
};

}  // namespace bulkhead::controlplane::controllers

#endif  // BULKHEAD_CONTROLPLANE_CONTROLLERS_EVENT_RECORDER_H_
