# Project-wide compile settings and the outpost_library() helper.

if(OUTPOST_SANITIZE)
  add_compile_options(-fsanitize=${OUTPOST_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${OUTPOST_SANITIZE})
  if(OUTPOST_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 warns that TSan does not model std::atomic_thread_fence, which Asio's
    # fenced_block uses around handlers; Asio hands handlers between threads through mutexes
    # and the reactor, which TSan does model (tools/ci/README.md, ThreadSanitizer).
    add_compile_options(-Wno-tsan)
  endif()
endif()

# Paths in debug info and __FILE__ are relative, so ccache hits across clone folders.
add_compile_options(-ffile-prefix-map=${CMAKE_SOURCE_DIR}=.)

find_program(OUTPOST_MOLD mold)
if(OUTPOST_MOLD)
  add_link_options(-fuse-ld=mold)
endif()

set(OUTPOST_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)

# Per-folder include trees (tools/cmake/README.md). Sources keep including headers by their
# path from the repository root ("routing/model/message.hpp"), but no target sees the root:
# each folder's headers are symlinked into ${CMAKE_BINARY_DIR}/include/<folder>/<folder>/...,
# and a library exports only its own folder's tree to what links it. So an include of a folder
# that a target does not link (directly or through a PUBLIC dependency) fails to compile.
# `detail/` headers go to a second tree that only the folder's own targets see (and tests
# that ask for it with outpost_use_detail()). Subfolders with a CMakeLists.txt of their own
# are other libraries (storage/rocksdb is not part of storage's tree).
function(outpost_folder_trees public_out detail_out)
  file(RELATIVE_PATH folder ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  string(REPLACE "/" "+" key "${folder}")
  set(public_tree ${CMAKE_BINARY_DIR}/include/${key})
  set(detail_tree ${CMAKE_BINARY_DIR}/include-detail/${key})
  get_property(done GLOBAL PROPERTY outpost_tree_${key})
  if(NOT done)
    set_property(GLOBAL PROPERTY outpost_tree_${key} TRUE)
    file(REMOVE_RECURSE ${public_tree} ${detail_tree})
    file(MAKE_DIRECTORY ${public_tree} ${detail_tree})
    # CONFIGURE_DEPENDS: a new or removed header re-runs CMake, which rebuilds the trees.
    file(GLOB_RECURSE headers CONFIGURE_DEPENDS RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}
         ${CMAKE_CURRENT_SOURCE_DIR}/*.hpp ${CMAKE_CURRENT_SOURCE_DIR}/*.h
         ${CMAKE_CURRENT_SOURCE_DIR}/*.ipp)
    foreach(header IN LISTS headers)
      # Skip headers of nested libraries (a folder between here and the header has its own
      # CMakeLists.txt).
      get_filename_component(dir ${header} DIRECTORY)
      set(nested FALSE)
      while(dir)
        if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/CMakeLists.txt)
          set(nested TRUE)
          break()
        endif()
        get_filename_component(dir ${dir} DIRECTORY)
      endwhile()
      if(nested OR header MATCHES "(^|/)node_modules/")
        continue()
      endif()
      if(header MATCHES "(^|/)detail/")
        set(tree ${detail_tree})
      else()
        set(tree ${public_tree})
      endif()
      set_property(GLOBAL APPEND PROPERTY outpost_headers_${key} ${header})
      get_filename_component(link_dir ${tree}/${folder}/${header} DIRECTORY)
      file(MAKE_DIRECTORY ${link_dir})
      file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR}/${header} ${tree}/${folder}/${header}
           SYMBOLIC)
    endforeach()
  endif()
  set(${public_out} ${public_tree} PARENT_SCOPE)
  set(${detail_out} ${detail_tree} PARENT_SCOPE)
endfunction()

# outpost_library(name SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...] [INTERFACE])
# One folder, one library; include paths are relative to the repository root, and a
# dependant sees this folder's headers only (outpost_folder_trees above). A header of this
# library that includes another library's header needs that library in PUBLIC_DEPS.
function(outpost_library name)
  cmake_parse_arguments(arg "INTERFACE" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  outpost_folder_trees(public_tree detail_tree)
  if(arg_INTERFACE)
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${public_tree})
    target_link_libraries(${name} INTERFACE ${arg_PUBLIC_DEPS})
    outpost_note_header_check_deps(${name})
    return()
  endif()
  add_library(${name} STATIC ${arg_SOURCES})
  # The library's headers are checked with what its own sources see: its PRIVATE_DEPS too (a
  # header only its .cpp files include may use them; a dependant that includes it would fail).
  outpost_note_header_check_deps(${name} ${arg_PRIVATE_DEPS})
  target_include_directories(${name} PUBLIC ${public_tree} PRIVATE ${detail_tree})
  set_target_properties(${name} PROPERTIES OUTPOST_DETAIL_INCLUDE ${detail_tree})
  target_compile_options(${name} PRIVATE ${OUTPOST_WARNINGS})
  target_link_libraries(${name} PUBLIC ${arg_PUBLIC_DEPS} PRIVATE ${arg_PRIVATE_DEPS})
endfunction()

# outpost_executable(name SOURCES ... [DEPS ...]): sees its own folder's headers and those of
# the libraries in DEPS (and their PUBLIC dependencies).
function(outpost_executable name)
  cmake_parse_arguments(arg "" "" "SOURCES;DEPS" ${ARGN})
  outpost_folder_trees(public_tree detail_tree)
  add_executable(${name} ${arg_SOURCES})
  outpost_note_header_check_deps(${arg_DEPS})
  target_include_directories(${name} PRIVATE ${public_tree} ${detail_tree})
  target_compile_options(${name} PRIVATE ${OUTPOST_WARNINGS})
  target_link_libraries(${name} PRIVATE ${arg_DEPS})
endfunction()

# outpost_use_detail(target library...): lets a test include the libraries' detail/ headers.
function(outpost_use_detail target)
  foreach(lib IN LISTS ARGN)
    target_include_directories(${target} PRIVATE $<TARGET_PROPERTY:${lib},OUTPOST_DETAIL_INCLUDE>)
  endforeach()
  file(RELATIVE_PATH folder ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  string(REPLACE "/" "+" key "${folder}")
  set_property(GLOBAL APPEND PROPERTY outpost_header_detail_${key} ${ARGN})
endfunction()

# Header self-containment (ARCHITECTURE.md §6: headers self-contained). `check_headers`
# (not part of `all`; tools/dev.sh check-headers, CI) compiles each header of ours alone, twice
# in one translation unit (so a missing #pragma once fails too), with only the include paths
# and definitions of the targets of its folder: a header that leans on what its includer
# included before it, or on a library its target does not link, fails to compile.
function(outpost_note_header_check_deps)
  file(RELATIVE_PATH folder ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  string(REPLACE "/" "+" key "${folder}")
  set_property(GLOBAL APPEND PROPERTY outpost_header_folders ${key})
  set_property(GLOBAL APPEND PROPERTY outpost_header_deps_${key} ${ARGN})
endfunction()

# Called once at the end of the top-level CMakeLists.txt, when every target exists.
function(outpost_header_checks)
  get_property(keys GLOBAL PROPERTY outpost_header_folders)
  list(REMOVE_DUPLICATES keys)
  add_custom_target(check_headers)
  foreach(key IN LISTS keys)
    get_property(headers GLOBAL PROPERTY outpost_headers_${key})
    if(NOT headers)
      continue()
    endif()
    get_property(deps GLOBAL PROPERTY outpost_header_deps_${key})
    list(REMOVE_DUPLICATES deps)
    string(REPLACE "+" "/" folder "${key}")
    set(sources)
    foreach(header IN LISTS headers)
      string(MAKE_C_IDENTIFIER "${header}" stem)
      set(tu ${CMAKE_BINARY_DIR}/header_check/${key}/${stem}.cpp)
      # file(CONFIGURE) writes only when the text changes, so ccache and ninja see no change.
      file(CONFIGURE OUTPUT ${tu} CONTENT "#include \"${folder}/${header}\"\n#include \"${folder}/${header}\"\n")
      list(APPEND sources ${tu})
    endforeach()
    add_library(header_check_${key} OBJECT EXCLUDE_FROM_ALL ${sources})
    target_include_directories(header_check_${key} PRIVATE
      ${CMAKE_BINARY_DIR}/include/${key} ${CMAKE_BINARY_DIR}/include-detail/${key})
    target_compile_options(header_check_${key} PRIVATE ${OUTPOST_WARNINGS})
    target_link_libraries(header_check_${key} PRIVATE ${deps})
    get_property(detail_of GLOBAL PROPERTY outpost_header_detail_${key})
    foreach(lib IN LISTS detail_of)
      target_include_directories(header_check_${key} PRIVATE
        $<TARGET_PROPERTY:${lib},OUTPOST_DETAIL_INCLUDE>)
    endforeach()
    add_dependencies(check_headers header_check_${key})
  endforeach()
endfunction()
