// node/images: the tar writer read back by the real tar, the OCI layout's
// blobs named by their real digests, the builtin pause and busybox images,
// and the errors of an import that cannot happen (no containerd, no archive).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/file.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"
#include "node/images/builtin_images.h"
#include "node/images/image_import.h"
#include "node/images/oci_archive.h"
#include "node/images/tar_writer.h"
#include "tests/support/command.h"

namespace bulkhead::node::images {
namespace {

using bulkhead::testing::RunCommand;
using nlohmann::json;

class Scratch {
 public:
  Scratch() {
    std::string pattern = "/tmp/bulkhead-images-test-XXXXXX";
    path_ = ::mkdtemp(pattern.data());
  }
  ~Scratch() { std::filesystem::remove_all(path_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// `tar -tvf` of `archive`, one line per entry, with the date columns.
std::vector<std::string> ListTar(const std::string& archive) {
  auto listed = RunCommand({"/bin/tar", "--numeric-owner", "-tvf", archive});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  std::vector<std::string> lines;
  for (std::string_view line : SplitNonEmpty(listed.out, "\n")) {
    lines.emplace_back(line);
  }
  return lines;
}

// The line of `listing` for `name` ("bin/sh", "tmp/"), or "".
std::string EntryOf(const std::vector<std::string>& listing, std::string_view name) {
  for (const auto& line : listing) {
    std::string_view rest = line;
    // mode owner size date time name[ -> target]
    auto fields = SplitNonEmpty(rest, " ");
    if (fields.size() >= 6 && fields[5] == name) {
      return line;
    }
  }
  return "";
}

std::string WriteScratch(const Scratch& scratch, const std::string& name,
                         const std::string& bytes) {
  std::string path = scratch.path() + "/" + name;
  EXPECT_TRUE(WriteFileAtomically(path, bytes, 0644).ok());
  return path;
}

// An OCI archive unpacked: its index, manifest and config, and the path of
// each layer blob.
struct Layout {
  json index;
  json manifest;
  json config;
  std::vector<std::string> layer_paths;
};

Layout Unpack(const Scratch& scratch, const std::string& archive_bytes) {
  Layout layout;
  std::string archive = WriteScratch(scratch, "image.tar", archive_bytes);
  std::string dir = scratch.path() + "/layout";
  std::filesystem::create_directory(dir);
  auto extracted = RunCommand({"/bin/tar", "-xf", archive, "-C", dir});
  EXPECT_EQ(extracted.exit_code, 0) << extracted.err;

  // Every blob's name is the SHA-256 of its content, as sha256sum says.
  for (const auto& blob : std::filesystem::directory_iterator(dir + "/blobs/sha256")) {
    auto summed = RunCommand({"/usr/bin/sha256sum", blob.path().string()});
    EXPECT_EQ(summed.out.substr(0, 64), blob.path().filename().string());
  }
  EXPECT_EQ(*ReadFile(dir + "/oci-layout"), R"({"imageLayoutVersion":"1.0.0"})");
  layout.index = json::parse(*ReadFile(dir + "/index.json"));
  EXPECT_EQ(layout.index["schemaVersion"], 2);
  EXPECT_EQ(layout.index["mediaType"], kMediaTypeIndex);
  EXPECT_EQ(layout.index["manifests"].size(), 1U);
  const json& descriptor = layout.index["manifests"][0];
  EXPECT_EQ(descriptor["mediaType"], kMediaTypeManifest);

  auto blob_of = [&dir](const json& desc) {
    std::string digest = desc["digest"].get<std::string>();
    EXPECT_EQ(digest.substr(0, 7), "sha256:");
    std::string path = dir + "/blobs/sha256/" + digest.substr(7);
    EXPECT_EQ(std::filesystem::file_size(path), desc["size"].get<uint64_t>()) << path;
    return path;
  };
  layout.manifest = json::parse(*ReadFile(blob_of(descriptor)));
  EXPECT_EQ(layout.manifest["schemaVersion"], 2);
  EXPECT_EQ(layout.manifest["mediaType"], kMediaTypeManifest);
  EXPECT_EQ(layout.manifest["config"]["mediaType"], kMediaTypeConfig);
  layout.config = json::parse(*ReadFile(blob_of(layout.manifest["config"])));
  EXPECT_EQ(layout.config["os"], "linux");
  EXPECT_EQ(layout.config["architecture"], *MachineArchitecture());
  EXPECT_EQ(descriptor["platform"]["architecture"], *MachineArchitecture());
  EXPECT_EQ(layout.config["rootfs"]["type"], "layers");
  EXPECT_EQ(layout.config["rootfs"]["diff_ids"].size(), layout.manifest["layers"].size());
  for (size_t i = 0; i < layout.manifest["layers"].size(); ++i) {
    const json& layer = layout.manifest["layers"][i];
    EXPECT_EQ(layer["mediaType"], kMediaTypeLayer);
    // Uncompressed: the diff_id is the layer's own digest.
    EXPECT_EQ(layout.config["rootfs"]["diff_ids"][i], layer["digest"]);
    layout.layer_paths.push_back(blob_of(layer));
  }
  return layout;
}

TEST(TarWriter, RealTarReadsNamesModesAndTargets) {
  Scratch scratch;
  TarWriter tar;
  ASSERT_TRUE(tar.AddDirectory("/etc").ok());
  ASSERT_TRUE(tar.AddDirectory("tmp", 01777).ok());
  ASSERT_TRUE(tar.AddFile("/etc/motd", "hello\n", 0640).ok());
  ASSERT_TRUE(tar.AddFile("empty", "", 0600).ok());
  ASSERT_TRUE(tar.AddSymlink("/etc/link", "motd").ok());
  std::string deep = "d/" + std::string(90, 'a') + "/" + std::string(40, 'b');  // 134 bytes
  ASSERT_TRUE(tar.AddDirectory(deep).ok());
  std::string deep_file = deep + "/" + std::string(99, 'c');  // prefix 134, name 99
  ASSERT_TRUE(tar.AddFile(deep_file, std::string(1000, 'x'), 0755).ok());
  std::string archive = WriteScratch(scratch, "t.tar", tar.Finish());

  auto listing = ListTar(archive);
  ASSERT_EQ(listing.size(), 7U);
  EXPECT_EQ(EntryOf(listing, "etc/").substr(0, 10), "drwxr-xr-x");
  EXPECT_EQ(EntryOf(listing, "tmp/").substr(0, 10), "drwxrwxrwt");
  EXPECT_EQ(EntryOf(listing, "etc/motd").substr(0, 10), "-rw-r-----");
  EXPECT_NE(EntryOf(listing, "etc/motd").find(" 0/0 "), std::string::npos) << listing[2];
  EXPECT_NE(EntryOf(listing, "etc/motd").find(" 1970-01-01 00:00 "), std::string::npos);
  EXPECT_EQ(EntryOf(listing, "empty").substr(0, 10), "-rw-------");
  std::string link = EntryOf(listing, "etc/link");
  EXPECT_EQ(link.substr(0, 1), "l");
  EXPECT_NE(link.find("etc/link -> motd"), std::string::npos) << link;
  EXPECT_EQ(EntryOf(listing, deep + "/").substr(0, 10), "drwxr-xr-x");
  EXPECT_EQ(EntryOf(listing, deep_file).substr(0, 10), "-rwxr-xr-x");

  auto content = RunCommand({"/bin/tar", "-xOf", archive, "etc/motd"});
  EXPECT_EQ(content.out, "hello\n");
  auto long_content = RunCommand({"/bin/tar", "-xOf", archive, deep_file});
  EXPECT_EQ(long_content.out, std::string(1000, 'x'));
}

TEST(TarWriter, CopiesHostFileWithItsMode) {
  Scratch scratch;
  std::string host = WriteScratch(scratch, "prog", "#!/bin/sh\n");
  ASSERT_EQ(::chmod(host.c_str(), 0750), 0);
  TarWriter tar;
  ASSERT_TRUE(tar.AddHostFile("bin/prog", host).ok());
  ASSERT_TRUE(tar.AddHostFile("bin/prog644", host, 0644).ok());
  auto missing = tar.AddHostFile("bin/none", scratch.path() + "/none");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  auto dir = tar.AddHostFile("bin/dir", scratch.path());
  EXPECT_EQ(dir.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(MessageOf(dir).find("not a regular file"), std::string::npos);
  std::string archive = WriteScratch(scratch, "t.tar", tar.Finish());
  auto listing = ListTar(archive);
  EXPECT_EQ(EntryOf(listing, "bin/prog").substr(0, 10), "-rwxr-x---");
  EXPECT_EQ(EntryOf(listing, "bin/prog644").substr(0, 10), "-rw-r--r--");
  EXPECT_EQ(RunCommand({"/bin/tar", "-xOf", archive, "bin/prog"}).out, "#!/bin/sh\n");
}

TEST(TarWriter, RefusesWhatUstarCannotHoldClearly) {
  TarWriter tar;
  // One component over 100 bytes: no split can fit it.
  auto long_name = tar.AddFile("dir/" + std::string(101, 'n'), "x");
  EXPECT_EQ(long_name.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(MessageOf(long_name).find("does not fit ustar"), std::string::npos)
      << long_name.message();
  // Over 155 + 1 + 100 bytes in all.
  std::string too_deep;
  for (int i = 0; i < 30; ++i) {
    too_deep += std::string(9, 'd') + "/";
  }
  too_deep += "f";
  EXPECT_EQ(tar.AddFile(too_deep, "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tar.AddSymlink("l", std::string(101, 't')).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tar.AddFile("a/../b", "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tar.AddFile("a//b", "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tar.AddFile("/", "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tar.AddFile("f", "x", 010000).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(tar.AddFile("/same", "x").ok());
  auto twice = tar.AddFile("same", "y");
  EXPECT_EQ(twice.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(MessageOf(twice).find("added twice"), std::string::npos);
}

TEST(TarWriter, SameEntriesSameBytes) {
  auto build = [] {
    TarWriter tar;
    EXPECT_TRUE(tar.AddDirectory("bin").ok());
    EXPECT_TRUE(tar.AddFile("bin/a", "content", 0755).ok());
    EXPECT_TRUE(tar.AddSymlink("bin/b", "a").ok());
    return tar.Finish();
  };
  std::string first = build();
  EXPECT_EQ(first, build());
  EXPECT_EQ(first.size() % 512, 0U);
}

ImageDescription SmallImage() {
  TarWriter layer;
  EXPECT_TRUE(layer.AddFile("hello", "hi\n", 0644).ok());
  ImageDescription image;
  image.tag = "v2";
  image.layers.push_back(layer.Finish());
  image.entrypoint = {"/hello", "--flag"};
  image.cmd = {"arg"};
  image.env = {"A=1", "PATH=/bin"};
  image.working_dir = "/work";
  image.user = "65534";
  return image;
}

TEST(OciArchive, BlobsAreNamedByTheirDigestsAndReferredWithTheirSizes) {
  Scratch scratch;
  auto archive = BuildOciArchive(SmallImage());
  ASSERT_TRUE(archive.ok()) << archive.status();
  Layout layout = Unpack(scratch, *archive);
  EXPECT_EQ(layout.index["manifests"][0]["annotations"][std::string(kAnnotationRefName)], "v2");
  EXPECT_EQ(layout.config["config"]["Entrypoint"], json({"/hello", "--flag"}));
  EXPECT_EQ(layout.config["config"]["Cmd"], json({"arg"}));
  EXPECT_EQ(layout.config["config"]["Env"], json({"A=1", "PATH=/bin"}));
  EXPECT_EQ(layout.config["config"]["WorkingDir"], "/work");
  EXPECT_EQ(layout.config["config"]["User"], "65534");
  ASSERT_EQ(layout.layer_paths.size(), 1U);
  EXPECT_EQ(RunCommand({"/bin/tar", "-xOf", layout.layer_paths[0], "hello"}).out, "hi\n");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(OciArchive, SameInputSameBytes) {
  auto first = BuildOciArchive(SmallImage());
  auto second = BuildOciArchive(SmallImage());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
  ImageDescription other = SmallImage();
  other.cmd = {"other"};
  EXPECT_NE(*BuildOciArchive(other), *first);
}

TEST(OciArchive, RefusesAnImageWithoutTagOrLayers) {
  ImageDescription image = SmallImage();
  image.tag.clear();
  EXPECT_EQ(BuildOciArchive(image).status().code(), absl::StatusCode::kInvalidArgument);
  image = SmallImage();
  image.layers.clear();
  EXPECT_EQ(BuildOciArchive(image).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(OciArchive, InspectTellsLayoutsDockerArchivesAndOtherFilesApart) {
  Scratch scratch;
  std::string oci = WriteScratch(scratch, "oci.tar", *BuildOciArchive(SmallImage()));
  auto contents = InspectImageArchive(oci);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->format, ArchiveContents::Format::kOciLayout);
  EXPECT_EQ(contents->names, std::vector<std::string>{"v2"});

  TarWriter docker;
  ASSERT_TRUE(docker.AddFile("abc.json", "{}").ok());
  ASSERT_TRUE(
      docker
          .AddFile("manifest.json",
                   R"([{"Config":"abc.json","RepoTags":["example.org/app:3"],"Layers":[]}])")
          .ok());
  contents = InspectImageArchive(WriteScratch(scratch, "docker.tar", docker.Finish()));
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->format, ArchiveContents::Format::kDockerSave);
  EXPECT_EQ(contents->names, std::vector<std::string>{"example.org/app:3"});

  auto text = InspectImageArchive(WriteScratch(scratch, "text.tar", std::string(2048, 'z')));
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(MessageOf(text.status()).find("is not an image archive"), std::string::npos)
      << text.status();
  TarWriter plain;
  ASSERT_TRUE(plain.AddFile("readme", "x").ok());
  EXPECT_EQ(InspectImageArchive(WriteScratch(scratch, "plain.tar", plain.Finish())).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto gzip = InspectImageArchive(
      WriteScratch(scratch, "g.tar", std::string("\x1f\x8b\x08") + std::string(1000, '\0')));
  EXPECT_NE(MessageOf(gzip.status()).find("gzip"), std::string::npos) << gzip.status();
  EXPECT_EQ(InspectImageArchive(scratch.path() + "/none").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(BuiltinImages, BusyboxHasTheAppletsAndTheFilesOfAUserland) {
  Scratch scratch;
  auto start = std::chrono::steady_clock::now();
  auto archive = BusyboxImageArchive();
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(archive.ok()) << archive.status();
  std::cout << "busybox image: " << archive->size() << " bytes in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  Layout layout = Unpack(scratch, *archive);
  EXPECT_EQ(layout.index["manifests"][0]["annotations"][std::string(kAnnotationRefName)], "1.35");
  EXPECT_EQ(layout.config["config"]["Cmd"], json({"sh"}));
  EXPECT_EQ(layout.config["config"]["Env"], json({"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}));
  ASSERT_EQ(layout.layer_paths.size(), 1U);
  auto listing = ListTar(layout.layer_paths[0]);
  EXPECT_EQ(EntryOf(listing, "bin/busybox").substr(0, 10), "-rwxr-xr-x");
  for (const char* applet : {"sh", "httpd", "wget", "nc", "nslookup", "ls", "cat"}) {
    std::string entry = EntryOf(listing, std::string("bin/") + applet);
    EXPECT_NE(entry.find(std::string("bin/") + applet + " -> busybox"), std::string::npos)
        << applet << ": " << entry;
  }
  auto applets = BusyboxApplets(std::string(kBusyboxPath));
  ASSERT_TRUE(applets.ok());
  for (const auto& applet : *applets) {
    EXPECT_FALSE(EntryOf(listing, "bin/" + applet).empty()) << applet;
  }
  EXPECT_EQ(EntryOf(listing, "tmp/").substr(0, 10), "drwxrwxrwt");
  EXPECT_EQ(EntryOf(listing, "root/").substr(0, 10), "drwx------");
  EXPECT_FALSE(EntryOf(listing, "var/").empty());
  EXPECT_TRUE(EntryOf(listing, "etc/hosts").empty());
  EXPECT_EQ(RunCommand({"/bin/tar", "-xOf", layout.layer_paths[0], "etc/passwd"}).out,
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  EXPECT_NE(RunCommand({"/bin/tar", "-xOf", layout.layer_paths[0], "etc/group"})
                .out.find("nobody:x:65534:"),
            std::string::npos);
  // Built twice, the same bytes: importing again is a no-op.
  EXPECT_EQ(*BusyboxImageArchive(), *archive);
}

TEST(BuiltinImages, BusyboxTagIsTheInstalledVersion) {
  auto version = BusyboxVersion(std::string(kBusyboxPath));
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ("bulkhead.local/busybox:" + *version, kBusyboxImage);
}

TEST(BuiltinImages, PauseImageIsTheStaticPauseProgram) {
  Scratch scratch;
  auto archive = PauseImageArchive(BULKHEAD_PAUSE_PATH);
  ASSERT_TRUE(archive.ok()) << archive.status();
  Layout layout = Unpack(scratch, *archive);
  EXPECT_EQ(layout.index["manifests"][0]["annotations"][std::string(kAnnotationRefName)], "1");
  EXPECT_EQ(layout.config["config"]["Entrypoint"], json({"/pause"}));
  auto listing = ListTar(layout.layer_paths.at(0));
  ASSERT_EQ(listing.size(), 1U);
  EXPECT_EQ(EntryOf(listing, "pause").substr(0, 10), "-rwxr-xr-x");
  EXPECT_EQ(*PauseImageArchive(BULKHEAD_PAUSE_PATH), *archive);
  EXPECT_EQ(PauseImageArchive(scratch.path() + "/none").status().code(),
            absl::StatusCode::kNotFound);

  // Static: no program interpreter, so it runs in an empty rootfs.
  auto elf = RunCommand({"/usr/bin/readelf", "-l", BULKHEAD_PAUSE_PATH});
  EXPECT_EQ(elf.exit_code, 0) << elf.err;
  EXPECT_EQ(elf.out.find("INTERP"), std::string::npos);
  EXPECT_LT(std::filesystem::file_size(BULKHEAD_PAUSE_PATH), 2U << 20);
}

// Runs pause, sends `sig` once it waits, returns its wait status.
int PauseExitOn(int sig) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(BULKHEAD_PAUSE_PATH, BULKHEAD_PAUSE_PATH, nullptr);
    ::_exit(127);
  }
  // Still running after a while: it blocks.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), 0);
  ::kill(pid, SIGCHLD);  // a child's end does not stop it
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), 0);
  ::kill(pid, sig);
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return status;
}

TEST(BuiltinImages, PauseBlocksUntilTermOrIntThenExitsZero) {
  for (int sig : {SIGTERM, SIGINT}) {
    int status = PauseExitOn(sig);
    EXPECT_TRUE(WIFEXITED(status)) << sig;
    EXPECT_EQ(WEXITSTATUS(status), 0) << sig;
  }
}

TEST(ImageImport, SplitsNamesAtTheTagOnly) {
  auto ref = SplitImageName("bulkhead.local/pause:1");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->repository, "bulkhead.local/pause");
  EXPECT_EQ(ref->tag, "1");
  ref = SplitImageName("localhost:5000/team/app:v1.2");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->repository, "localhost:5000/team/app");
  EXPECT_EQ(ref->tag, "v1.2");
  EXPECT_FALSE(SplitImageName("localhost:5000/app").ok());
  EXPECT_FALSE(SplitImageName("app").ok());
  EXPECT_FALSE(SplitImageName("app:").ok());
  EXPECT_FALSE(SplitImageName("app@sha256:abc").ok());
}

TEST(ImageImport, NoContainerdOrNoArchiveIsAClearErrorAtOnce) {
  Scratch scratch;
  std::string archive = WriteScratch(scratch, "pause.tar", *BuildOciArchive(SmallImage()));
  auto start = std::chrono::steady_clock::now();
  auto missing = ImportImageArchive(scratch.path() + "/containerd.sock", archive, "x.local/a:v2");
  EXPECT_EQ(missing.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(MessageOf(missing).find("is containerd running?"), std::string::npos) << missing;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  auto not_archive = ImportImageArchive(scratch.path() + "/containerd.sock",
                                        WriteScratch(scratch, "x", "not a tar\n"), "x.local/a:v2");
  EXPECT_EQ(not_archive.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(MessageOf(not_archive).find("is not an image archive"), std::string::npos);
  EXPECT_EQ(ImportImageArchive("/run/none.sock", archive, "no-tag").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ListImages(scratch.path() + "/containerd.sock").status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace bulkhead::node::images
