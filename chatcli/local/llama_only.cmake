# llama.cpp as chat's local model needs it: the library alone.
#
# Passed to the llama-cpp-python build as -DCMAKE_PROJECT_INCLUDE (chatcli.local.server.BUILD_FLAGS),
# so CMake reads it after each project() of the build. llama-cpp-python forces llama.cpp's `common`
# library on (a cache entry), yet neither ships it in the wheel nor loads it; with the HTTP client only
# it uses, it is half of the compile. A normal variable of the same name hides that cache entry from
# llama.cpp's CMakeLists, which then leaves both out: about half the build time, the same wheel.
set(LLAMA_BUILD_COMMON OFF)
