# bulkhead_proto_library(<target> PROTOS <file.proto>... )
#
# Runs protoc with the C++ and grpc_cpp_plugin generators on each .proto file
# (paths relative to the current source dir, which is also the import root)
# and builds the generated code into a static library <target>. Generated
# headers are SYSTEM includes so the project's warning flags do not apply.

function(bulkhead_proto_library target)
  cmake_parse_arguments(ARG "" "" "PROTOS" ${ARGN})
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/gen)
  set(srcs "")
  foreach(proto IN LISTS ARG_PROTOS)
    get_filename_component(dir ${proto} DIRECTORY)
    get_filename_component(stem ${proto} NAME_WE)
    set(base ${out_dir}/${dir}/${stem})
    set(gen ${base}.pb.cc ${base}.pb.h ${base}.grpc.pb.cc ${base}.grpc.pb.h)
    add_custom_command(
      OUTPUT ${gen}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
      COMMAND protobuf::protoc
              --proto_path=${CMAKE_CURRENT_SOURCE_DIR}
              --cpp_out=${out_dir}
              --grpc_out=${out_dir}
              --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN_EXECUTABLE}
              ${CMAKE_CURRENT_SOURCE_DIR}/${proto}
      DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${proto} protobuf::protoc
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(APPEND srcs ${base}.pb.cc ${base}.grpc.pb.cc)
  endforeach()
  add_library(${target} STATIC ${srcs})
  target_include_directories(${target} SYSTEM PUBLIC ${out_dir})
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf gRPC::grpc++)
endfunction()
