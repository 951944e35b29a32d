# Compiler flags of the fuzzing build (AMP_NATIVE_FUZZ=ON): every object carries libFuzzer's
# coverage instrumentation and AddressSanitizer + UndefinedBehaviorSanitizer, with the float-cast
# and integer checks that -fsanitize=undefined leaves out. Any report aborts the run.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang" OR NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "AMP_NATIVE_FUZZ=ON needs clang for C and C++ (libFuzzer); this build uses "
                      "${CMAKE_C_COMPILER_ID} and ${CMAKE_CXX_COMPILER_ID}. Configure a fresh build directory with "
                      "CC=clang CXX=clang++ (Debian: apt-get install clang).")
endif()
if(AMP_NATIVE_SANITIZE)
  message(FATAL_ERROR "AMP_NATIVE_FUZZ=ON brings its own sanitizers; leave AMP_NATIVE_SANITIZE off")
endif()
# AMP_FUZZ_RECOVER=ON (for surveying, not for CI) lets UBSan carry on after a report, so that one
# run lists every distinct report instead of stopping at the first.
set(AMP_FUZZ_RECOVER_FLAG -fno-sanitize-recover=all)
if(AMP_FUZZ_RECOVER)
  set(AMP_FUZZ_RECOVER_FLAG -fsanitize-recover=all)
endif()
set(AMP_FUZZ_SANITIZERS "address,undefined,float-cast-overflow,integer")
add_compile_options(-fsanitize=fuzzer-no-link,${AMP_FUZZ_SANITIZERS} ${AMP_FUZZ_RECOVER_FLAG}
                    -fsanitize-ignorelist=${CMAKE_CURRENT_LIST_DIR}/ignorelist.txt
                    -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=${AMP_FUZZ_SANITIZERS})
