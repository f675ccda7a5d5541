# node-gyp fallback (CPU only) and the prebuildify path. The sources come from the one list,
# scripts/native-sources.json (CMakeLists.txt reads the same file). Hot kernels are compiled per
# instruction set as separate static libraries, never with -march=native. The AVX2 and AVX-512
# variants exist only for an x86 target (target_arch, which node-gyp's --arch sets): make builds
# every target, and an arm64 compiler rejects their flags.
{
  "target_defaults": {
    "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fexceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
    "include_dirs": ["native/include", "native/core", "native/cuda"],
    "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17" },
    "conditions": [["target_arch=='x64' or target_arch=='ia32'", { "defines": ["KESTREL_HAVE_X86_ISAS=1"] }]]
  },
  "targets": [
    {
      "target_name": "kestrel_isa_base",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./scripts/native-sources.json').isa.join(' ')\")"],
      "defines": ["KESTREL_ISA_NS=isa_base", "KESTREL_ISA_NAME=\"base\"", "KESTREL_VW=2", "KESTREL_NR=4"]
    },
    {
      "target_name": "kestrel",
      "sources": [
        "<!@(node -p \"require('./scripts/native-sources.json').core.join(' ')\")",
        "<!@(node -p \"require('./scripts/native-sources.json').addon.join(' ')\")",
        "<!@(node -p \"require('./scripts/native-sources.json').cudaNone.join(' ')\")"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED",
                  "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "KESTREL_BUILD_SYSTEM=\"node-gyp\""],
      "dependencies": ["kestrel_isa_base"],
      "conditions": [
        ["OS=='linux'", { "libraries": ["-ldl"] }],
        ["target_arch=='x64' or target_arch=='ia32'",
         { "dependencies": ["kestrel_isa_avx2", "kestrel_isa_avx512"],
           "defines": ["KESTREL_BUILD_FLAGS=\"-O3 -fno-math-errno, isa variants: base, avx2, avx512\""] },
         { "defines": ["KESTREL_BUILD_FLAGS=\"-O3 -fno-math-errno, isa variants: base\""] }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64' or target_arch=='ia32'", {
      "targets": [
        {
          "target_name": "kestrel_isa_avx2",
          "type": "static_library",
          "sources": ["<!@(node -p \"require('./scripts/native-sources.json').isa.join(' ')\")"],
          "defines": ["KESTREL_ISA_NS=isa_avx2", "KESTREL_ISA_NAME=\"avx2\"", "KESTREL_VW=4", "KESTREL_NR=6"],
          "cflags_cc": ["-mavx2", "-mfma"]
        },
        {
          "target_name": "kestrel_isa_avx512",
          "type": "static_library",
          "sources": ["<!@(node -p \"require('./scripts/native-sources.json').isa.join(' ')\")"],
          "defines": ["KESTREL_ISA_NS=isa_avx512", "KESTREL_ISA_NAME=\"avx512\"", "KESTREL_VW=8", "KESTREL_NR=8"],
          "cflags_cc": ["-mavx512f", "-mavx512dq", "-mavx512vl", "-mfma"]
        }
      ]
    }]
  ]
}
