// swift-tools-version:6.1
// libFuzzer targets for Rampart's parsers (ops/fuzz builds them with -sanitize=fuzzer,address).
import PackageDescription

let fuzzTargets = ["FuzzJSONRPC", "FuzzURI", "FuzzJWT", "FuzzQuery", "FuzzRedactor"]

let package = Package(
    name: "rampart-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "rampart", path: "..")],
    targets: [.target(name: "FuzzDriver")]
        + fuzzTargets.map { name in
            .executableTarget(
                name: name,
                dependencies: [
                    .byName(name: "FuzzDriver"),
                    .product(name: "RampartCore", package: "rampart"),
                    .product(name: "RampartMCP", package: "rampart"),
                ]
            )
        }
)
