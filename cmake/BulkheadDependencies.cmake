# Every dependency comes from Debian packages installed by
# scripts/install-deps.sh; nothing is downloaded at build time.

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)

pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf>=1.0)
pkg_check_modules(LIBCGROUP REQUIRED IMPORTED_TARGET libcgroup)


find_program(CLANG_EXECUTABLE NAMES clang clang-14 REQUIRED)
find_program(BPFTOOL_EXECUTABLE NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
find_program(GRPC_CPP_PLUGIN_EXECUTABLE NAMES grpc_cpp_plugin REQUIRED)

# Control plane: HTTPS (Boost.Beast/Asio over OpenSSL), JSON (Boost.JSON), store (SQLite).
find_package(OpenSSL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(Boost 1.81 REQUIRED COMPONENTS json)
