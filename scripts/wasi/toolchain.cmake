# CMake toolchain for C libraries built into kiln's wasm32-wasip2 components
# (libaom): Debian's clang-19 with wasi-libc through target/wasi-sysroot, the
# sysroot of symlinks scripts/build-components.sh makes.
set(CMAKE_SYSTEM_NAME WASI)
set(CMAKE_SYSTEM_VERSION 1)
set(CMAKE_SYSTEM_PROCESSOR wasm32)
set(CMAKE_C_COMPILER clang-19)
set(CMAKE_CXX_COMPILER clang++-19)
set(CMAKE_AR llvm-ar-19 CACHE FILEPATH "archiver")
set(CMAKE_RANLIB llvm-ranlib-19 CACHE FILEPATH "ranlib")
set(CMAKE_C_COMPILER_TARGET wasm32-wasip2)
set(CMAKE_CXX_COMPILER_TARGET wasm32-wasip2)
set(CMAKE_SYSROOT "$ENV{KILN_WASI_SYSROOT}")
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
