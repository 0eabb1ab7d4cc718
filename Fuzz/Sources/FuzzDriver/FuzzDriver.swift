import Foundation

@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// Each target's `LLVMFuzzerTestOneInput` (its `@_cdecl` fuzz function).
@_silgen_name("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt

/// Runs libFuzzer's driver on the target's fuzz function (the package links libFuzzer without
/// its `main`, which SwiftPM's executables provide themselves).
public func runFuzzer() -> Never {
    var argumentCount = CommandLine.argc
    var arguments = CommandLine.unsafeArgv
    exit(
        runDriver(&argumentCount, &arguments) { data, size in
            guard let data else { return 0 }
            return testOneInput(data, size)
        }
    )
}
