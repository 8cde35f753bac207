# Project-wide compile settings and the outpost_library() helper.

if(OUTPOST_SANITIZE)
  add_compile_options(-fsanitize=${OUTPOST_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${OUTPOST_SANITIZE})
endif()

# Paths in debug info and __FILE__ are relative, so ccache hits across clone folders.
add_compile_options(-ffile-prefix-map=${CMAKE_SOURCE_DIR}=.)

find_program(OUTPOST_MOLD mold)
if(OUTPOST_MOLD)
  add_link_options(-fuse-ld=mold)
endif()

set(OUTPOST_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)

# outpost_library(name SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# One folder, one library; include paths are relative to the repository root.
function(outpost_library name)
  cmake_parse_arguments(arg "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${arg_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${OUTPOST_WARNINGS})
  target_link_libraries(${name} PUBLIC ${arg_PUBLIC_DEPS} PRIVATE ${arg_PRIVATE_DEPS})
endfunction()

function(outpost_executable name)
  cmake_parse_arguments(arg "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${arg_SOURCES})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${OUTPOST_WARNINGS})
  target_link_libraries(${name} PRIVATE ${arg_DEPS})
endfunction()
