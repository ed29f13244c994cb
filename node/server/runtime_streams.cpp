#include "node/server/runtime_streams.h"

#include "common/logging.h"
#include "fmt/format.h"

namespace bulkhead::node {
namespace {

StreamTarget Refused(int status, std::string message) {
  StreamTarget out;
  out.status = status;
  out.message = std::move(message);
  return out;
}

StreamTarget FromRuntime(const StatusOr<std::string>& url, const StreamRequest& request) {
  if (!url.ok()) {
    Logger(Component::kNode)
        .warn("streaming for {}/{}: {}", request.ns, request.pod, MessageOf(url.status()));
    return Refused(500, MessageOf(url.status()));
  }
  StreamTarget out;
  out.url = *url;
  return out;
}

}  // namespace

StreamLookup RuntimeStreams(Kubelet& pods, cri::CriClient& cri) {
  return [&pods, &cri](const StreamRequest& request) -> StreamTarget {
    auto ids = pods.FindStreamIds(request.ns, request.pod, request.container);
    if (!ids.has_value()) {
      return request.container.empty()
                 ? Refused(404, fmt::format("pod \"{}/{}\" does not exist on this node", request.ns,
                                            request.pod))
                 : Refused(404, fmt::format("container not found (\"{}\")", request.container));
    }
    if (request.kind == StreamRequest::Kind::kPortForward) {
      if (ids->sandbox_id.empty()) {
        return Refused(400, fmt::format("pod \"{}\" has no sandbox yet", request.pod));
      }
      return FromRuntime(cri.PortForward(ids->sandbox_id, request.ports), request);
    }
    if (ids->container_id.empty() || !ids->running) {
      return Refused(400, fmt::format("container {} is not running", request.container));
    }
    if (request.kind == StreamRequest::Kind::kAttach) {
      runtime::v1::AttachRequest attach;
      attach.set_container_id(ids->container_id);
      attach.set_stdin(request.input);
      attach.set_stdout(request.output);
      attach.set_stderr(request.error);
      attach.set_tty(request.tty);
      return FromRuntime(cri.Attach(attach), request);
    }
    runtime::v1::ExecRequest exec;
    exec.set_container_id(ids->container_id);
    for (const std::string& word : request.command) {
      exec.add_cmd(word);
    }
    exec.set_stdin(request.input);
    exec.set_stdout(request.output);
    exec.set_stderr(request.error);
    exec.set_tty(request.tty);
    return FromRuntime(cri.Exec(exec), request);
  };
}

}  // namespace bulkhead::node
