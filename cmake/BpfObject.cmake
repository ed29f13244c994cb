# bulkhead_bpf_object(<name> <source.bpf.c> [HEADERS h...] [DEFINES D...])
#
# Compiles <source.bpf.c> with `clang -target bpf` against the checked-in
# vmlinux.h (CO-RE, so one object runs on every kernel with BTF), then runs
# `bpftool gen skeleton` on the object. The result is an INTERFACE library
# <name>_skel whose include directory holds <name>.skel.h; link it and
# include "<name>.skel.h".

set(BULKHEAD_BPF_ARCH x86)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(BULKHEAD_BPF_ARCH arm64)
endif()
set(BULKHEAD_VMLINUX_DIR ${CMAKE_SOURCE_DIR}/bpf/vmlinux/${BULKHEAD_BPF_ARCH})

function(bulkhead_bpf_object name source)
  cmake_parse_arguments(ARG "" "" "HEADERS;DEFINES" ${ARGN})
  set(defines)
  foreach(d IN LISTS ARG_DEFINES)
    list(APPEND defines -D${d})
  endforeach()
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/${source})
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/skel)
  set(obj ${out_dir}/${name}.bpf.o)
  set(skel ${out_dir}/${name}.skel.h)
  set(deps ${src} ${BULKHEAD_VMLINUX_DIR}/vmlinux.h)
  foreach(h IN LISTS ARG_HEADERS)
    list(APPEND deps ${CMAKE_CURRENT_SOURCE_DIR}/${h})
  endforeach()

  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${CLANG_EXECUTABLE} -g -O2 -target bpf
            -D__TARGET_ARCH_${BULKHEAD_BPF_ARCH} ${defines}
            -Wall -Werror
            -I${BULKHEAD_VMLINUX_DIR} -I${CMAKE_CURRENT_SOURCE_DIR}
            -c ${src} -o ${obj}
    DEPENDS ${deps}
    COMMENT "BPF ${name}: clang -target bpf"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL_EXECUTABLE} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "BPF ${name}: bpftool gen skeleton"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})

  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel SYSTEM INTERFACE ${out_dir} ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
