// swift-tools-version:6.0
// libFuzzer targets for idamoe's readers of hostile files (docs/reliability.md). Build and run with
// scripts/fuzz; each target's main hands its one-input function to libFuzzer's driver.
import Foundation
import PackageDescription

// The repository above this folder; SwiftPM names a path dependency after its folder, whatever the clone is called.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent()

let fuzzTarget: (String) -> Target = { name in
    .executableTarget(name: name, dependencies: ["FuzzSupport", .product(name: "IdaFileReaders", package: root.lastPathComponent)])
}

let package = Package(
    name: "idamoe-fuzz",
    dependencies: [.package(path: root.path)],
    targets: [.target(name: "CFuzzDriver"), .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"])]
        + ["FuzzSafetensors", "FuzzJSON", "FuzzEvents", "FuzzRunManifest", "FuzzCheckpoint", "FuzzSnapshotModel"].map(fuzzTarget)
)
