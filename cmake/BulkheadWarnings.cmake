# Compiler flags for Bulkhead's own targets. Generated code (protobuf, gRPC,
# BPF skeletons) is compiled without them or included as SYSTEM headers.

set(BULKHEAD_WARNING_FLAGS
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wformat=2
    -Wimplicit-fallthrough)
if(BULKHEAD_WERROR)
  list(APPEND BULKHEAD_WARNING_FLAGS -Werror)
endif()

# UBSan's vptr check is left out: at the open-file limit (a test drives the
# control plane there on purpose) its slow path cannot open the pipe it
# probes memory with and reports every virtual call as a bad object; ASan
# still catches the use-after-free and bad casts it would find.
if(BULKHEAD_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined -fno-sanitize=vptr)
endif()

# Fuzzing: all code is built with coverage feedback for libFuzzer and the
# sanitizers; the fuzz targets link libFuzzer's main (tests/fuzz).
if(BULKHEAD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "BULKHEAD_FUZZ needs clang (CC=clang CXX=clang++); see scripts/fuzz.sh")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# bulkhead_target_defaults(<target>): warnings and common settings for a
# target written by the project.
function(bulkhead_target_defaults target)
  target_compile_options(${target} PRIVATE ${BULKHEAD_WARNING_FLAGS})
endfunction()
