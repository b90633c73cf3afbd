// swift-tools-version:6.0
// idamoe: a toolkit and terminal inspector for Input-Domain-Aware Mixture-of-Experts routing.
//
// Platforms: Linux (x86-64 and other 64-bit CPUs with glibc) only. The code relies on /proc/self/exe,
// Glibc, OpenBLAS and ncursesw as Debian packages them; it claims no Apple platform.
import PackageDescription

let package = Package(
    name: "idamoe",
    products: [
        .executable(name: "idamoe", targets: ["idamoe"]),
        // Every reader of files a user hands us, for the libFuzzer targets in Fuzz/.
        .library(name: "IdaFileReaders", targets: ["IdaFormats", "IdaRouting", "IdaTraining"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // FilePath: run-directory paths are joined as components, never as strings (docs/reliability.md).
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
    ],
    targets: [
        // C at the edge: one system-library target per C library, each with a small shim.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CNCursesW", pkgConfig: "ncursesw",
                       providers: [.apt(["libncursesw5-dev"])]),
        // What the platform offers that Swift's modules do not: CPUID and XGETBV (for choosing
        // OpenBLAS's kernels) and glibc's mallopt.
        .target(name: "CPlatform"),
        // exp, erf and the activations: the one definition of the math (inline, for single values) and
        // loops over buffers compiled once per instruction-set level, chosen at run time (IdaSystem's
        // VectorLevel). Always optimised (debug builds included), so the tests run the vectorised loops
        // that ship.
        .target(name: "CVectorMath", cSettings: [.unsafeFlags(["-O2", "-fno-math-errno"])]),
        // What the machine is: CPU features, the OpenBLAS kernel to ask for, idamoe's vector level, the
        // cores, the one monotonic clock, the allocator's tuning. No BLAS call.
        .target(name: "IdaSystem", dependencies: ["CPlatform"]),
        // The only Swift target that calls OpenBLAS, and the machine as benchmarks state it (BLASSystem).
        .target(name: "IdaBLAS", dependencies: ["COpenBLAS", "IdaSystem"]),
        // Bytes in, typed values out: safetensors, JSON, the events.jsonl reader, atomic files (IdaSystem
        // only for the vector level its F16 loop runs at).
        .target(name: "IdaFormats", dependencies: ["CVectorMath", "IdaSystem", .product(name: "SystemPackage", package: "swift-system")]),
        // Layers, the IDA and softmax routers, losses and their backward passes.
        .target(name: "IdaNumerics", dependencies: ["IdaSystem", "IdaBLAS", "CVectorMath"]),
        // The file contract of docs/format.md, one home for every reader and writer: checkpoints <->
        // routers, probes, placement files, run directories (RunLayout), run.json (RunManifest, the
        // settings tables of ModelConfig and TrainingOptions), the events and the contract's schema;
        // and routing a probe through a checkpoint (ProbeRouting). What is measured on routings
        // (comparison, specialisation, out-of-domain) is IdaAnalysis.
        .target(name: "IdaRouting", dependencies: ["IdaSystem", "IdaFormats", "IdaNumerics", "IdaBLAS", .product(name: "SystemPackage", package: "swift-system")]),
        // What idamoe measures on routings: comparison (agreement, Hungarian matching, component and
        // domain changes), specialisation by token label, out-of-domain detection.
        .target(name: "IdaAnalysis", dependencies: ["IdaRouting", "IdaFormats", "IdaNumerics"]),
        // Cell buffers, styles and widgets (text, bars, sparklines, braille, heatmaps): plain Swift, no curses.
        .target(name: "IdaTerminal"),
        // The only Swift target that calls ncurses: draws ScreenBuffers, reads keys, mouse and resizes.
        .target(name: "IdaCurses", dependencies: ["CNCursesW", "IdaTerminal"]),
        // The inspector: run following, snapshot analysis, state, update and views (no curses calls).
        .target(name: "IdaInspector", dependencies: ["IdaTerminal", "IdaRouting", "IdaAnalysis", "IdaFormats", "IdaNumerics"]),
        // Corpus, the MoE transformer, the training loop and live run directories.
        .target(name: "IdaTraining", dependencies: ["IdaSystem", "IdaFormats", "IdaNumerics", "IdaRouting", "IdaBLAS"]),
        // Benchmarks: what they measure (routing, training, the inspector's frames, keys and idle loop, the
        // scale case, GEMM peaks, resource usage, timing statistics) and the runs, checkpoints, probes and
        // corpora they fabricate. No flag names: IdaCLI's bench subcommands parse, call and print.
        .target(name: "IdaBench", dependencies: ["IdaSystem", "IdaFormats", "IdaNumerics", "IdaRouting", "IdaBLAS", "IdaTraining",
                                                 "IdaInspector", "IdaTerminal"]),
        // Subcommands (library so tests can call them).
        .target(name: "IdaCLI", dependencies: [
            "IdaSystem",
            "IdaFormats", "IdaNumerics", "IdaRouting", "IdaAnalysis", "IdaBLAS", "IdaTraining", "IdaInspector", "IdaTerminal", "IdaCurses",
            "IdaBench",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "idamoe", dependencies: ["IdaCLI"]),
        // Approximate comparisons and finite-difference checks for tests only.
        .target(name: "IdaTestSupport", dependencies: ["IdaNumerics", "IdaTerminal", "IdaRouting", "IdaTraining"],
                path: "Tests/IdaTestSupport"),
        .testTarget(name: "IdaBLASTests", dependencies: ["IdaBLAS", "IdaSystem"]),
        .testTarget(name: "IdaFormatsTests", dependencies: ["IdaSystem", "IdaFormats", "IdaBLAS", "IdaTestSupport"]),
        .testTarget(name: "IdaNumericsTests", dependencies: ["IdaSystem", "IdaNumerics", "IdaBLAS", "CVectorMath", "IdaTestSupport"]),
        .testTarget(name: "IdaRoutingTests", dependencies: ["IdaRouting", "IdaFormats", "IdaNumerics", "IdaTestSupport"]),
        .testTarget(name: "IdaAnalysisTests", dependencies: ["IdaAnalysis", "IdaRouting", "IdaFormats", "IdaNumerics", "IdaTestSupport"]),
        .testTarget(name: "IdaTerminalTests", dependencies: ["IdaTerminal", "IdaCurses", "IdaTestSupport"], exclude: ["Snapshots"]),
        .testTarget(name: "IdaInspectorTests", dependencies: ["IdaInspector", "IdaTerminal", "IdaRouting", "IdaAnalysis", "IdaFormats", "IdaNumerics", "IdaTestSupport"], exclude: ["Snapshots", "Fixtures"]),
        .testTarget(name: "IdaTrainingTests", dependencies: ["IdaTraining", "IdaFormats", "IdaNumerics", "IdaRouting", "IdaTestSupport"]),
        .testTarget(name: "IdaCLITests", dependencies: ["IdaSystem", "IdaCLI", "IdaBLAS", "IdaFormats", "IdaRouting", "IdaNumerics", "IdaTestSupport"],
                    exclude: ["Golden"]),
    ]
)
