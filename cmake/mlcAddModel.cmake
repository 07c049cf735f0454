# mlc_add_model(<target> MODEL <file.onnx>
#               [TARGET cpu|cuda] [CPU <name>]
#               [SHAPES <name>=<dims> ...] [OPTIONS <mlc compile option> ...])
#
# Compiles an ONNX model at build time and makes <target>, an interface
# library that carries:
#   - the include directory of the generated header <target>.h: the model's
#     input/output names, dtypes and dims, its arena size and the path of the
#     compiled library (<TARGET>_SO_PATH), as C macros;
#   - a link to mlc::runtime.
# The model is recompiled when the .onnx file, the options or the compiler
# change. The compiled library is <build dir>/<target>/<target>.so; its path
# is also the target's MLC_MODEL_FILE property.
#
# The compiler is mlc::mlc (installed with the package), or MLC_EXECUTABLE
# when that is set.
include_guard(GLOBAL)

function(mlc_add_model target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "MODEL;TARGET;CPU" "SHAPES;OPTIONS")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "mlc_add_model(${target}): unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_MODEL)
    message(FATAL_ERROR "mlc_add_model(${target}): MODEL <file.onnx> is required")
  endif()
  if(NOT target MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "mlc_add_model(${target}): the target name must be a C identifier "
                        "(it names the generated header and its macros)")
  endif()
  if(NOT ARG_TARGET)
    set(ARG_TARGET cpu)
  endif()
  if(NOT ARG_TARGET MATCHES "^(cpu|cuda)$")
    message(FATAL_ERROR "mlc_add_model(${target}): TARGET is cpu or cuda, not '${ARG_TARGET}'")
  endif()
  if(MLC_EXECUTABLE)
    set(compiler "${MLC_EXECUTABLE}")
  elseif(TARGET mlc::mlc)
    set(compiler "$<TARGET_FILE:mlc::mlc>")
  else()
    message(FATAL_ERROR "mlc_add_model(${target}): no mlc compiler: this mlc package was "
                        "installed without it; set MLC_EXECUTABLE to an mlc binary")
  endif()

  get_filename_component(model "${ARG_MODEL}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  set(outdir "${CMAKE_CURRENT_BINARY_DIR}/${target}")
  set(so "${outdir}/${target}.so")
  set(header "${outdir}/include/${target}.h")

  set(args --target "${ARG_TARGET}")
  if(ARG_CPU)
    list(APPEND args --cpu "${ARG_CPU}")
  endif()
  foreach(shape IN LISTS ARG_SHAPES)
    list(APPEND args --shape "${shape}")
  endforeach()
  list(APPEND args ${ARG_OPTIONS})
  # The options live in a file that is rewritten only when they change, so
  # that a changed option recompiles the model with every generator.
  string(REPLACE ";" "\n" options_text "${args}")
  file(CONFIGURE OUTPUT "${outdir}/options.txt" CONTENT "${options_text}\n")
  file(MAKE_DIRECTORY "${outdir}/include")

  add_custom_command(
    OUTPUT "${so}" "${header}"
    COMMAND "${compiler}" compile "${model}" -o "${so}" --header "${header}"
            --header-prefix "${target}" --quiet ${args}
    DEPENDS "${model}" "${outdir}/options.txt" "${compiler}"
    COMMENT "mlc: compiling ${ARG_MODEL} (${target})"
    VERBATIM)
  add_custom_target(${target}_compile DEPENDS "${so}" "${header}")

  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_compile)
  target_include_directories(${target} INTERFACE "${outdir}/include")
  target_link_libraries(${target} INTERFACE mlc::runtime)
  set_target_properties(${target} PROPERTIES MLC_MODEL_FILE "${so}")
endfunction()
